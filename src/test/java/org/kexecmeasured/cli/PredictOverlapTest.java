package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.SyntheticLog;
import org.kexecmeasured.uefi.TestPayloads;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code predict} parses the policy on a second thread while it opens the payload and the PCR source, and reads the
 * policy's secret sources on a second thread while it plans the boot. The errors still come in the flow's order: a
 * bad policy before anything about the payload, the log or the TPM; a bad secret source before anything the plan
 * says (its own failure included) — each as exit 2 with its own message, nothing on stdout, no stack trace.
 */
class PredictOverlapTest {

    /** A policy with a LUKS2 source; {@code luks2} relative to the policy file. */
    private static Path policy(Path dir, String luks2) throws Exception {
        Path p = dir.resolve("policy.yaml");
        Files.writeString(p, String.join("\n", "version: 1", "secrets:",
                "  - {name: disk, must-remain: any, source: {luks2: " + luks2 + "}}", ""));
        return p;
    }

    /** All 24 sha256 PCRs zero, in tpm2_pcrread's YAML. */
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

    /** A payload the plan fails on: its first instruction is ud2 (an invalid-opcode fault in the emulator). */
    private static Path faultingPayload(Path dir) throws Exception {
        Path p = dir.resolve("ud2.efi");
        Files.write(p, TestPayloads.tinyEfiApp(TestPayloads.bytes(0x0F, 0x0B)));
        return p;
    }

    private static void assertOneError(ChainFixtures.Cli c, String... mustContain) {
        assertEquals(2, c.rc(), c.out() + c.err());
        assertEquals("", c.out(), "nothing on stdout");
        for (String s : mustContain) assertTrue(c.err().contains(s), "'" + s + "' in: " + c.err());
        assertFalse(c.err().contains("\tat "), "no stack trace: " + c.err());
    }

    @Test
    void aBadPolicyIsReportedBeforeTheMissingPayloadTheLogAndTheTpm(@TempDir Path dir) throws Exception {
        Path policy = dir.resolve("policy.yaml");
        Files.writeString(policy, "version: 1\nsecretz: []\n");
        Path missing = dir.resolve("no-such-payload.efi");
        // parsed beside the payload's opening, which fails at once: still the policy's error, with its line and key
        assertOneError(ChainFixtures.cli("predict", "--policy", policy.toString(), missing.toString(), "--pcrs",
                dir.resolve("no-such-pcrs.yaml").toString(), "--firmware-log", dir.resolve("no-such-log").toString()),
                policy + ":2: secretz");
        // the same beside a TPM nobody listens to
        Path payload = faultingPayload(dir);
        assertOneError(ChainFixtures.cli("predict", "--policy", policy.toString(), payload.toString(), "--tpm",
                "swtpm:host=127.0.0.1,port=1", "--firmware-log", firmwareLog(dir).toString()), policy + ":2: secretz");
        // and beside an unreadable PCR snapshot
        Path badPcrs = dir.resolve("bad-pcrs.yaml");
        Files.writeString(badPcrs, "sha256:\n  0 : 0xzz\n");
        assertOneError(ChainFixtures.cli("predict", "--policy", policy.toString(), payload.toString(), "--pcrs", badPcrs.toString(),
                "--firmware-log", firmwareLog(dir).toString()), policy + ":2: secretz");
    }

    /**
     * The TPM is opened beside the policy's parse, before the policy is known to be valid: with a bad policy it must
     * have been sent no command at all (no read, no session, no handle), and the policy's error is the one reported.
     * The oracle is the transport's own count of commands sent, of a live swtpm.
     */
    @Test
    void aBadPolicyBesideALiveTpmSendsItNoCommand(@TempDir Path dir) throws Exception {
        Path policy = dir.resolve("policy.yaml");
        Files.writeString(policy, "version: 1\nsecretz: []\n");
        List<org.kexecmeasured.tpm.Tpm> opened = new java.util.concurrent.CopyOnWriteArrayList<>();
        Services counting = new Services(tcti -> {
            org.kexecmeasured.tpm.Tpm t = Services.DEFAULT.tpm().open(tcti);
            opened.add(t);
            return t;
        }, Services.DEFAULT.kexec());
        try (org.kexecmeasured.tpm.testing.Swtpm swtpm = org.kexecmeasured.tpm.testing.Swtpm.start(List.of("sha256"))) {
            // the payload opens slowly enough for the TPM to be opened before the parse's error is taken
            Path payload = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
            assertOneError(ChainFixtures.cli(counting, "predict", "--policy", policy.toString(), payload.toString(), "--tpm",
                    swtpm.tcti(), "--firmware-log", firmwareLog(dir).toString()), policy + ":2: secretz");
        }
        long sent = 0;
        for (org.kexecmeasured.tpm.Tpm t : opened) sent += t.commandCount();
        assertEquals(0, sent, "commands sent to the TPM by " + opened.size() + " connection(s)");
    }

    /**
     * A payload (or a PCR snapshot) that is a FIFO (read once, as standard input is) with no writer yet: its opening
     * waits for one, so the policy's error must not wait behind it (with the policy parsed beside the payload's opening
     * and the snapshot's reading, this hung).
     */
    @Test
    void aBadPolicyIsNotHeldBackByAPayloadFifoWithoutAWriter(@TempDir Path dir) throws Exception {
        Path policy = dir.resolve("policy.yaml");
        Files.writeString(policy, "version: 1\nsecretz: []\n");
        Path fifo = dir.resolve("payload.fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor(), "mkfifo (coreutils)");
        java.util.concurrent.CompletableFuture<ChainFixtures.Cli> run = java.util.concurrent.CompletableFuture.supplyAsync(() ->
                ChainFixtures.cli("predict", "--policy", policy.toString(), fifo.toString(), "--pcrs", dir.resolve("pcrs.yaml").toString(),
                        "--firmware-log", dir.resolve("no-such-log").toString()));
        ChainFixtures.Cli c;
        try {
            c = run.get(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            // let the blocked opening go on (a writer that writes nothing), then fail
            try (java.io.OutputStream w = Files.newOutputStream(fifo)) {
                w.flush();
            }
            throw new AssertionError("the policy's error waited for the payload FIFO's writer", e);
        }
        assertOneError(c, policy + ":2: secretz");
        // the same for a PCR snapshot that is a FIFO without a writer (the payload a regular file)
        Path pcrFifo = dir.resolve("pcrs.fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", pcrFifo.toString()).inheritIO().start().waitFor(), "mkfifo (coreutils)");
        Path payload = faultingPayload(dir);
        run = java.util.concurrent.CompletableFuture.supplyAsync(() ->
                ChainFixtures.cli("predict", "--policy", policy.toString(), payload.toString(), "--pcrs", pcrFifo.toString(),
                        "--firmware-log", dir.resolve("no-such-log").toString()));
        try {
            c = run.get(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            try (java.io.OutputStream w = Files.newOutputStream(pcrFifo)) {
                w.flush();
            }
            throw new AssertionError("the policy's error waited for the PCR snapshot FIFO's writer", e);
        }
        assertOneError(c, policy + ":2: secretz");
    }

    @Test
    void theSnapshotsAndThePayloadsOwnErrorsStillCome(@TempDir Path dir) throws Exception {
        Path luks = dir.resolve("disk.img");
        Files.write(luks, new byte[4096]); // no LUKS2 header: but the policy parses, so what fails first is reported
        Path policy = policy(dir, "disk.img");
        Path missing = dir.resolve("no-such-payload.efi");
        ChainFixtures.Cli c = ChainFixtures.cli("predict", "--policy", policy.toString(), missing.toString(), "--pcrs",
                snapshot(dir).toString(), "--firmware-log", firmwareLog(dir).toString());
        assertOneError(c, missing.toString());
        Path badPcrs = dir.resolve("bad-pcrs.yaml");
        Files.writeString(badPcrs, "sha256:\n  0 : 0xzz\n");
        assertOneError(ChainFixtures.cli("predict", "--policy", policy.toString(), faultingPayload(dir).toString(), "--pcrs",
                badPcrs.toString(), "--firmware-log", firmwareLog(dir).toString()), badPcrs.toString());
    }

    @Test
    void aBadSecretSourceIsReportedBeforeThePlansOwnFailure(@TempDir Path dir) throws Exception {
        Path luks = dir.resolve("disk.img");
        Files.write(luks, new byte[4096]); // zeros: no LUKS2 magic
        Path policy = policy(dir, "disk.img");
        Path pcrs = snapshot(dir);
        Path fw = firmwareLog(dir);
        Path payload = faultingPayload(dir);
        // the source is read beside the plan, which fails too (and later): the source's error is the one reported
        ChainFixtures.Cli c = ChainFixtures.cli("predict", "--policy", policy.toString(), payload.toString(), "--pcrs",
                pcrs.toString(), "--firmware-log", fw.toString());
        assertOneError(c, luks.toString());
        assertFalse(c.err().contains("emulation of"), c.err());
        // with a readable source the plan's own failure is reported, as bad input
        Path policy2 = dir.resolve("policy2.yaml");
        Files.writeString(policy2, "version: 1\n");
        ChainFixtures.Cli c2 = ChainFixtures.cli("predict", "--policy", policy2.toString(), payload.toString(), "--pcrs",
                pcrs.toString(), "--firmware-log", fw.toString());
        assertOneError(c2, "emulation of " + payload);
    }

    @Test
    void aBadSecretSourceBesideASuccessfulPlanStopsThePrediction(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        Path luks = dir.resolve("disk.img");
        Files.write(luks, new byte[4096]);
        ChainFixtures.Cli c = ChainFixtures.cli("predict", "--policy", policy(dir, "disk.img").toString(), uki.toString(), "--pcrs",
                snapshot(dir).toString(), "--firmware-log", firmwareLog(dir).toString(), "--json");
        assertOneError(c, luks.toString());
    }
}
