package org.kexecmeasured.boot;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The payload's SHA-256 Authenticode digest (the boundary event's) is hashed on a thread of its own from the plan's
 * start, while the firmware log and the PCRs are read ({@link Hashing#startPayloadSha256}): the planner takes it from
 * there (equal to pesign's), a refusal on that thread is the plan's error as itself, and a plan that stops before it
 * took the digest waits for that thread (no thread of a failed plan still reads the payload's mapping).
 */
class EarlyPayloadDigestTest {

    private static final List<HashAlg> BANKS = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
    private final Executor original = Hashing.earlyThreads;

    @AfterEach
    void restore() {
        Hashing.earlyThreads = original;
    }

    private static Path payload(Path dir) throws Exception {
        Path copy = dir.resolve("payload.efi");
        Files.copy(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"), copy);
        return copy;
    }

    /** The early digest is pesign's; the other banks (pesign's sha1, the JDK's sha384 over the spec's ranges) too. */
    @Test
    void theEarlyDigestIsPesignsAndTheOtherBanksFollow(@TempDir Path dir) throws Exception {
        Path copy = payload(dir);
        try (PayloadFile pf = PayloadFile.open(copy)) {
            Hashing.EarlySha256 early = Hashing.startPayloadSha256(pf.buffer(), () -> { });
            Hashing h = new Hashing(BANKS);
            Thread caller = Thread.currentThread();
            h.beforeLargeRead(() -> {
                if (Thread.currentThread() == caller) throw new AssertionError("the payload hashed again on the caller");
            });
            byte[] sha256 = h.payloadAuthenticodeSha256(pf.buffer(), early);
            assertEquals(RealParts.pesignHash(copy, "sha256"), Hex.of(sha256));
            Map<HashAlg, byte[]> all = h.awaitPayload();
            assertArrayEquals(sha256, all.get(HashAlg.SHA256));
            assertEquals(RealParts.pesignHash(copy, "sha1"), Hex.of(all.get(HashAlg.SHA1)));
            byte[] file = Files.readAllBytes(copy);
            MessageDigest md = MessageDigest.getInstance("SHA-384");
            for (Authenticode.Range r : Authenticode.hashedRanges(PeFile.parse(file))) md.update(file, (int) r.offset(), (int) r.length());
            assertArrayEquals(md.digest(), all.get(HashAlg.SHA384));
            assertEquals(file.length, h.bytes(), "the payload's bytes counted once for all banks");
        }
    }

    /** An early digest of other memory (equal bytes, another buffer) is not taken: the image is hashed again. */
    @Test
    void anEarlyDigestOfAnotherBufferIsNotTaken(@TempDir Path dir) throws Exception {
        Path copy = payload(dir);
        byte[] changed = Files.readAllBytes(copy);
        changed[(int) PeFile.parse(changed).sections().get(0).pointerToRawData() + 16] ^= 0x5a;
        Path other = dir.resolve("other.efi");
        Files.write(other, changed);
        try (PayloadFile pf = PayloadFile.open(copy)) {
            Hashing.EarlySha256 early = Hashing.startPayloadSha256(ByteBuffer.wrap(changed), () -> { });
            byte[] sha256 = new Hashing(List.of(HashAlg.SHA256)).payloadAuthenticodeSha256(pf.buffer(), early);
            assertEquals(RealParts.pesignHash(copy, "sha256"), Hex.of(sha256), "the payload's own digest, not the other's");
            early.awaitQuietly();
            assertTrue(!RealParts.pesignHash(other, "sha256").equals(Hex.of(sha256)), "the flip is in hashed bytes");
        }
    }

    /** A refusal on the early thread (a broken read lease) is what the planner's digest throws, as itself. */
    @Test
    void aRefusalOnTheEarlyThreadIsThrownAsItself(@TempDir Path dir) throws Exception {
        Path copy = payload(dir);
        try (PayloadFile pf = PayloadFile.open(copy)) {
            BadInputException refusal = new BadInputException("payload.efi: its read lease was broken (test)");
            Hashing.EarlySha256 early = Hashing.startPayloadSha256(pf.buffer(), () -> {
                throw refusal;
            });
            Hashing h = new Hashing(BANKS);
            assertSame(refusal, assertThrows(BadInputException.class, () -> h.payloadAuthenticodeSha256(pf.buffer(), early)));
        }
    }

    /**
     * Through {@link MeasuredBoot#plan}: the PCR read waits until the early thread has hashed the payload (had the
     * digest been left for after the read, the wait would time out: the read is where this test fails), and then
     * stops the plan; the early thread's digest is pesign's.
     */
    @Test
    @Timeout(120)
    void thePayloadIsHashedWhileThePcrsAreRead(@TempDir Path dir) throws Exception {
        Path copy = payload(dir);
        CountDownLatch hashed = new CountDownLatch(1);
        Hashing.earlyThreads = r -> original.execute(() -> {
            r.run();
            hashed.countDown();
        });
        RuntimeException stop = new IllegalStateException("stop after the PCR read (test)");
        PcrReader reader = new StoppingReader(() -> {
            try {
                if (!hashed.await(60, TimeUnit.SECONDS)) {
                    throw new AssertionError("the payload's SHA-256 was not hashed while the PCRs were read");
                }
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            throw stop;
        });
        try (PayloadFile pf = PayloadFile.open(copy)) {
            MeasuredBoot.Request req = new MeasuredBoot.Request(pf, "payload.efi", null,
                    Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin"), dir.resolve("state"), null,
                    BootPolicy.BUILTIN_DEFAULT, "test", 60_000, java.time.Duration.ZERO, null, null, OsLogs.NONE);
            assertSame(stop, assertThrows(IllegalStateException.class, () -> MeasuredBoot.plan(req, reader)));
        }
    }

    /**
     * A digest started before the plan (the boot command starts it as soon as the payload is open) is the one the plan
     * takes: no second hashing thread; one started on another buffer is not (the plan starts its own).
     */
    @Test
    @Timeout(120)
    void anEarlyDigestStartedBeforeThePlanIsTheOneItTakes(@TempDir Path dir) throws Exception {
        Path copy = payload(dir);
        java.util.concurrent.atomic.AtomicInteger started = new java.util.concurrent.atomic.AtomicInteger();
        Hashing.earlyThreads = r -> {
            started.incrementAndGet();
            original.execute(r);
        };
        RuntimeException stop = new IllegalStateException("stop at the PCR read (test)");
        try (PayloadFile pf = PayloadFile.open(copy)) {
            MeasuredBoot.Request req = new MeasuredBoot.Request(pf, "payload.efi", null,
                    Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin"), dir.resolve("state"), null,
                    BootPolicy.BUILTIN_DEFAULT, "test", 60_000, java.time.Duration.ZERO, null, null, OsLogs.NONE);
            Hashing.EarlySha256 early = Hashing.startPayloadSha256(pf.buffer(), () -> { });
            assertSame(stop, assertThrows(IllegalStateException.class,
                    () -> MeasuredBoot.plan(req, new StoppingReader(() -> {
                        throw stop;
                    }), false, early)));
            assertEquals(1, started.get(), "the plan took the digest started before it");
            Hashing.EarlySha256 other = Hashing.startPayloadSha256(ByteBuffer.wrap(Files.readAllBytes(copy)), () -> { });
            assertThrows(IllegalStateException.class, () -> MeasuredBoot.plan(req, new StoppingReader(() -> {
                throw stop;
            }), false, other));
            assertEquals(3, started.get(), "another buffer's digest is not taken: the plan started its own");
        }
    }

    /**
     * A plan that stops before the planner took the digest (here: no firmware log) reports its own error, and has
     * waited for the early thread (held back here, so a plan that did not wait would return first).
     */
    @Test
    @Timeout(120)
    void aPlanThatStopsEarlyWaitsForTheEarlyThread(@TempDir Path dir) throws Exception {
        Path copy = payload(dir);
        AtomicBoolean ended = new AtomicBoolean();
        Hashing.earlyThreads = r -> original.execute(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ended.set(true); // just before the hashing (which completes what the plan waits for)
            r.run();
        });
        Path missing = dir.resolve("no-such-log.bin");
        try (PayloadFile pf = PayloadFile.open(copy)) {
            MeasuredBoot.Request req = new MeasuredBoot.Request(pf, "payload.efi", null, missing, dir.resolve("state"), null,
                    BootPolicy.BUILTIN_DEFAULT, "test", 60_000, java.time.Duration.ZERO, null, null, OsLogs.NONE);
            BadInputException e = assertThrows(BadInputException.class,
                    () -> MeasuredBoot.plan(req, new StoppingReader(() -> {
                        throw new AssertionError("no PCR read without a firmware log");
                    })));
            assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
            assertTrue(ended.get(), "the plan returned before the early thread ended");
        }
    }

    /** A PCR reader whose read runs {@code onRead} (which throws): the plan never gets past its PCR read. */
    private record StoppingReader(Runnable onRead) implements PcrReader {
        @Override
        public String source() {
            return "test reader";
        }

        @Override
        public List<HashAlg> banks() {
            return BANKS;
        }

        @Override
        public Map<HashAlg, byte[][]> readPcrs(PcrSelection selection) {
            onRead.run();
            throw new AssertionError("onRead throws");
        }

        @Override
        public byte[] random(int n) {
            return new byte[n];
        }
    }
}
