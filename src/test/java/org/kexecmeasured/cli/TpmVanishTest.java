package org.kexecmeasured.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmFactory;
import org.kexecmeasured.tpm.error.TpmTransportException;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.HashAlg;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A TPM that dies or hangs mid-command gives a clear error, a non-zero exit code and no hang. */
@ExtendWith(SwtpmExtension.class)
class TpmVanishTest {
    @AfterEach
    void revive(Swtpm swtpm) {
        if (!swtpm.alive()) {
            swtpm.restart();
        } else {
            swtpm.thaw();
        }
    }

    @Test
    void killedWhileACommandIsPending(Swtpm swtpm) throws Exception {
        try (Tpm tpm = TpmFactory.open(swtpm.tcti(10_000))) {
            tpm.banks(); // connection established and served
            swtpm.freeze(); // the next command is sent but not processed
            CompletableFuture<Object> f = CompletableFuture.supplyAsync(() -> tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 0)));
            Thread.sleep(300);
            assertFalse(f.isDone(), "command must be pending while swtpm is stopped");
            long t0 = System.nanoTime();
            swtpm.kill();
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            TpmTransportException te = assertInstanceOf(TpmTransportException.class, e.getCause());
            assertTrue(te.getMessage().contains("while TPM2_PCR_Read was in progress (TPM stopped or killed?)"), te.getMessage());
            assertTrue(ms < 5000, "error after " + ms + " ms (the timeout is 10 s: it must not be what ended the wait)");
        }
    }

    @Test
    void cliExitsNonZeroWhenSwtpmIsKilledDuringItsCommand(Swtpm swtpm) throws Exception {
        swtpm.freeze();
        CompletableFuture<ChainFixtures.Cli> f = CompletableFuture.supplyAsync(
                () -> ChainFixtures.cli("tpm", "pcrs", "--tpm", swtpm.tcti(20_000)));
        Thread.sleep(500);
        assertFalse(f.isDone(), "the CLI waits for the stopped swtpm");
        long t0 = System.nanoTime();
        swtpm.kill();
        ChainFixtures.Cli r = f.get(5, TimeUnit.SECONDS);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(Main.EXIT_BAD_INPUT, r.rc(), r.err());
        assertTrue(r.err().startsWith("kexec-measured: error: ") && r.err().contains(swtpm.tcti(20_000)), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertTrue(ms < 5000, "exit after " + ms + " ms (timeout 20 s)");
    }

    @Test
    void hungTpmTimesOut(Swtpm swtpm) throws Exception {
        swtpm.freeze();
        long t0 = System.nanoTime();
        ChainFixtures.Cli r = CompletableFuture.supplyAsync(
                () -> ChainFixtures.cli("tpm", "info", "--tpm", swtpm.tcti(1000))).get(10, TimeUnit.SECONDS);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(Main.EXIT_BAD_INPUT, r.rc(), r.err());
        assertTrue(r.err().contains("no answer from the TPM at " + swtpm.tcti(1000) + " within 1000 ms to TPM2_GetCapability"), r.err());
        assertTrue(ms >= 1000 && ms < 5000, "timed out after " + ms + " ms");
    }

    @Test
    void controlChannelShutdownEndsSwtpm(Swtpm swtpm) throws Exception {
        swtpm.control().shutdown();
        ProcessHandle.of(swtpm.pid()).ifPresent(h -> h.onExit().orTimeout(5, TimeUnit.SECONDS).join());
        assertFalse(swtpm.alive());
    }

    @Test
    void noTpmListening(Swtpm swtpm) {
        swtpm.kill();
        ChainFixtures.Cli r = ChainFixtures.cli("tpm", "info", "--tpm", swtpm.tcti());
        assertEquals(Main.EXIT_BAD_INPUT, r.rc());
        assertTrue(r.err().contains("cannot connect to the TPM at " + swtpm.tcti()), r.err());
    }
}
