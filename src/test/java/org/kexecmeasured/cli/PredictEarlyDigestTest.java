package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.Hashing;
import org.kexecmeasured.eventlog.SyntheticLog;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code predict} starts the payload's SHA-256 Authenticode digest (the boundary event's) as soon as the payload is
 * open, as {@code boot} does: the payload's lease is checked on that thread before it reads, the plan takes that
 * digest (equal to pesign's), a refusal on that thread is the prediction's error (exit 2, its own message), and the
 * command waits for that thread before it closes the payload, also when it stops early (a bad policy).
 */
class PredictEarlyDigestTest {

    private final BiFunction<ByteBuffer, Runnable, Hashing.EarlySha256> original = PredictCommand.startEarly;

    @AfterEach
    void restore() {
        PredictCommand.startEarly = original;
    }

    private static Path snapshot(Path dir) throws Exception {
        StringBuilder sb = new StringBuilder("sha256:\n");
        for (int i = 0; i < 24; i++) sb.append("  ").append(i).append(" : 0x").append("00".repeat(32)).append('\n');
        Path p = dir.resolve("pcrs.yaml");
        Files.writeString(p, sb.toString());
        return p;
    }

    private static Path firmwareLog(Path dir) throws Exception {
        Path fw = dir.resolve("fw.bin");
        Files.write(fw, SyntheticLog.generate(List.of(HashAlg.SHA256), 0, 1).toBytes());
        return fw;
    }

    private static Path emptyPolicy(Path dir) throws Exception {
        Path p = dir.resolve("policy.yaml");
        Files.writeString(p, "version: 1\n");
        return p;
    }

    /** The digest started at the payload's opening (lease check on its own thread) is the report's, and pesign's. */
    @Test
    @Timeout(300)
    void theDigestStartedAtOpeningIsPesigns(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        AtomicInteger started = new AtomicInteger();
        AtomicReference<Thread> checkedOn = new AtomicReference<>();
        PredictCommand.startEarly = (buffer, leaseCheck) -> {
            started.incrementAndGet();
            return original.apply(buffer, () -> {
                checkedOn.set(Thread.currentThread());
                leaseCheck.run();
            });
        };
        ChainFixtures.Cli c = ChainFixtures.cli("predict", "--policy", emptyPolicy(dir).toString(), uki.toString(), "--pcrs",
                snapshot(dir).toString(), "--firmware-log", firmwareLog(dir).toString(), "--json");
        assertEquals(0, c.rc(), c.out() + c.err());
        assertEquals(1, started.get(), "one early digest, started by the command");
        assertTrue(checkedOn.get() != null, "the lease was checked before the early thread read");
        assertNotSame(Thread.currentThread(), checkedOn.get(), "the lease check ran on the hashing thread");
        JsonNode report = Json.MAPPER.readTree(c.out());
        assertEquals(RealParts.pesignHash(uki, "sha256"), report.path("payload").path("authenticodeSha256").asText());
    }

    /** A refusal on the early thread (a broken read lease) stops the prediction with its own message: the plan took it. */
    @Test
    @Timeout(300)
    void aRefusalOnTheEarlyThreadIsThePredictionsError(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        PredictCommand.startEarly = (buffer, leaseCheck) -> original.apply(buffer, () -> {
            throw new BadInputException("demo.efi: its read lease was broken (test)");
        });
        ChainFixtures.Cli c = ChainFixtures.cli("predict", "--policy", emptyPolicy(dir).toString(), uki.toString(), "--pcrs",
                snapshot(dir).toString(), "--firmware-log", firmwareLog(dir).toString(), "--json");
        assertEquals(2, c.rc(), c.out() + c.err());
        assertEquals("", c.out(), "nothing on stdout");
        assertTrue(c.err().contains("its read lease was broken (test)"), c.err());
        assertFalse(c.err().contains("\tat "), "no stack trace: " + c.err());
    }

    /**
     * A prediction that stops before the plan (a bad policy) reports the policy's error and has waited for the early
     * thread (held back here, so a command that did not wait would return first).
     */
    @Test
    @Timeout(300)
    void aPredictionThatStopsEarlyWaitsForTheEarlyThread(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        AtomicBoolean ended = new AtomicBoolean();
        PredictCommand.startEarly = (buffer, leaseCheck) -> original.apply(buffer, () -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ended.set(true); // just before the hashing, which completes what the command waits for
            leaseCheck.run();
        });
        Path policy = dir.resolve("bad.yaml");
        Files.writeString(policy, "version: 1\nsecrets: [\n");
        ChainFixtures.Cli c = ChainFixtures.cli("predict", "--policy", policy.toString(), uki.toString(), "--pcrs",
                snapshot(dir).toString(), "--firmware-log", firmwareLog(dir).toString());
        assertEquals(2, c.rc(), c.out() + c.err());
        assertTrue(c.err().contains(policy.toString()), c.err());
        assertTrue(ended.get(), "the command returned before the early thread ended");
    }
}
