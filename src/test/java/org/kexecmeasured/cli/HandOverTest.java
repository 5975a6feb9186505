package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.kexec.KernelState;
import org.kexecmeasured.kexec.KexecErrors;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.tpm.TpmFactory;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code boot} with the hand-over, against a real swtpm and the test UKI, on the kexec syscall seam
 * ({@link RecordingKexec}: this machine must never load a kernel; the QEMU guest runs the real calls).
 * Oracles: tpm2_pcrread for what the TPM holds, GNU cpio for the initrd the kernel would get, make-uki's
 * inputs for kernel, initrd and cmdline.
 */
class HandOverTest {
    static final String ALL = "sha1:all+sha256:all+sha384:all";

    @TempDir
    static Path dir;
    static Path uki;
    static Path fwFile;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
        fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
    }

    static ChainFixtures.Cli boot(Swtpm swtpm, RecordingKexec k, Path state, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(),
                "--firmware-log", fwFile.toString(), "--state-dir", state.toString(), "--json"));
        args.addAll(List.of(more));
        return ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), args.toArray(String[]::new));
    }

    /** The sidecar archive after the payload's initrd, extracted by GNU cpio. */
    static Path sidecar(byte[] initrd, int payloadInitrd, Path into) throws Exception {
        int at = (payloadInitrd + 3) & ~3;
        Path tail = into.resolveSibling(into.getFileName() + ".cpio");
        Files.write(tail, Arrays.copyOfRange(initrd, at, initrd.length));
        Files.createDirectories(into);
        RealParts.run(List.of("sh", "-c", "cd '" + into + "' && cpio -idm --quiet --no-absolute-filenames < '" + tail + "'"), "cpio");
        return into.resolve(".extra/kexec-measured");
    }

    @Test
    void loadsThePayloadsKernelInitrdAndCmdlineThenCommitsAsPredicted() throws Exception {
        Path state = dir.resolve("state-load");
        RecordingKexec k = new RecordingKexec();
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
            ChainFixtures.Cli c = boot(swtpm, k, state);
            assertEquals(0, c.rc(), c.out() + c.err());
            assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load"), k.calls);
            assertEquals(0, k.openFds(), "both memfds closed");
            assertArrayEquals(Files.readAllBytes(uki.resolve("vmlinuz")), k.kernel, "the UKI's inner kernel");
            assertEquals(Files.readString(uki.resolve("cmdline.txt")), k.cmdline, "the cmdline the stub computed");
            byte[] payloadInitrd = Files.readAllBytes(uki.resolve("initrd.cpio"));
            assertArrayEquals(payloadInitrd, Arrays.copyOf(k.initrd, payloadInitrd.length), "the UKI's initrd first");
            Path side = sidecar(k.initrd, payloadInitrd.length, dir.resolve("x-load"));
            assertArrayEquals(Files.readAllBytes(state.resolve("eventlog.bin")), Files.readAllBytes(side.resolve("tpm2-event-log.bin")),
                    "the initrd carries the log the commit wrote");
            assertArrayEquals(Files.readAllBytes(state.resolve("eventlog.cel.json")), Files.readAllBytes(side.resolve("tpm2-event-log.cel.json")));
            JsonNode manifest = Json.MAPPER.readTree(side.resolve("manifest.json").toFile());
            Map<String, Map<Integer, String>> after = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            for (String bank : List.of("sha1", "sha256", "sha384")) {
                manifest.path("expectedPcrs").path(bank).fields().forEachRemaining(e ->
                        assertEquals(e.getValue().asText(), after.get(bank).get(Integer.parseInt(e.getKey())), bank + " PCR " + e.getKey()));
            }
            JsonNode out = Json.MAPPER.readTree(c.out());
            assertTrue(out.path("loaded").asBoolean());
            assertTrue(out.path("extended").size() > 0);
        }
    }

    @Test
    void aLoadTheKernelRefusesLeavesTheTpmUntouched() throws Exception {
        record Case(int errno, KernelState.Lockdown lockdown, int exit, String says) {
        }
        for (Case cs : List.of(new Case(KexecErrors.EKEYREJECTED, KernelState.Lockdown.NONE, 1, "does not verify"),
                new Case(KexecErrors.EPERM, KernelState.Lockdown.INTEGRITY, 1, "locked down (integrity)"),
                new Case(KexecErrors.ENOEXEC, KernelState.Lockdown.NONE, 2, "bzImage"),
                new Case(KexecErrors.ENOMEM, KernelState.Lockdown.NONE, 2, "not enough memory"))) {
            Path state = dir.resolve("state-refused-" + cs.errno());
            RecordingKexec k = new RecordingKexec();
            k.failLoadWith = cs.errno();
            k.lockdown = cs.lockdown();
            try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
                Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
                ChainFixtures.Cli c = boot(swtpm, k, state);
                assertEquals(cs.exit(), c.rc(), c.err());
                assertTrue(c.err().contains(cs.says()) && c.err().contains(KexecErrors.errnoName(cs.errno())), c.err());
                assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "no PCR changed in any bank");
                assertFalse(Files.exists(state.resolve("journal.jsonl")), "no journal: the commit never started");
                assertFalse(k.calls.contains("reboot"));
            }
        }
    }

    @Test
    void aCommitThatFailsUnloadsTheKernelAndNamesTheJournal() throws Exception {
        Path state = dir.resolve("state-commit-fails");
        RecordingKexec k = new RecordingKexec();
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
            Services s = Services.DEFAULT.withKexec(k::loader)
                    .withTpm(tcti -> new FaultyTpm(TpmFactory.open(tcti), 3, FaultyTpm.Fault.ACTION_THEN_SEND, swtpm::kill));
            ChainFixtures.Cli c = ChainFixtures.cli(s, "boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", fwFile.toString(), "--state-dir", state.toString());
            assertEquals(4, c.rc(), c.out() + c.err());
            assertTrue(c.err().contains("journal") && c.err().contains("unloaded again"), c.err());
            assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load", "unload"), k.calls);
            assertFalse(k.loaded);
        }
    }

    @Test
    void execStartsTheKernelOnlyAfterTheCommit() throws Exception {
        Path state = dir.resolve("state-exec");
        RecordingKexec k = new RecordingKexec();
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            ChainFixtures.Cli c = boot(swtpm, k, state, "--exec");
            // the seam refuses the reboot as an unprivileged kernel would: the TPM had changed by then
            assertEquals(4, c.rc(), c.err());
            assertTrue(c.err().contains("committed") && c.err().contains("reboot(LINUX_REBOOT_CMD_KEXEC)"), c.err());
            assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load", "sync", "reboot"), k.calls);
            assertNotEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "the commit came before the exec");
            assertTrue(Json.MAPPER.readTree(c.out()).path("loaded").asBoolean(), "the result was printed before the exec");
        }
    }

    @Test
    void aCrashLoadExtendsNothingAndCarriesTheLogAsItStood() throws Exception {
        Path state = dir.resolve("state-crash");
        RecordingKexec k = new RecordingKexec();
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            ChainFixtures.Cli c = boot(swtpm, k, state, "--crash");
            assertEquals(0, c.rc(), c.err());
            assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load crash"), k.calls);
            assertTrue(k.crashLoaded);
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "no PCR changed");
            assertFalse(Files.exists(state.resolve("journal.jsonl")));
            Path side = sidecar(k.initrd, (int) Files.size(uki.resolve("initrd.cpio")), dir.resolve("x-crash"));
            assertArrayEquals(Files.readAllBytes(fwFile), Files.readAllBytes(side.resolve("tpm2-event-log.bin")),
                    "the firmware's log, no boundary");
            JsonNode m = Json.MAPPER.readTree(side.resolve("manifest.json").toFile());
            assertEquals("kexec-measured-uncommitted/1", m.path("format").asText());
            assertEquals("crash", m.path("mode").asText());
            assertFalse(m.path("committed").asBoolean(true));
        }
        // no crash reservation: refused before any syscall, exit 2
        RecordingKexec none = new RecordingKexec();
        none.crashSize = 0;
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
            ChainFixtures.Cli c = boot(swtpm, none, dir.resolve("state-crash-none"), "--crash");
            assertEquals(2, c.rc());
            assertTrue(c.err().contains("crashkernel="), c.err());
            assertEquals(List.of(), none.calls);
        }
    }

    @Test
    void optionsThatContradictEachOtherAreRefusedBeforeAnything() {
        RecordingKexec k = new RecordingKexec();
        for (List<String> bad : List.of(List.of("--crash", "--exec"), List.of("--no-load", "--crash"), List.of("--no-load", "--exec"),
                List.of("--at-shutdown", "--exec"))) {
            List<String> args = new java.util.ArrayList<>(List.of("boot", uki.resolve("demo.efi").toString(), "--tpm", "swtpm:port=1"));
            args.addAll(bad);
            ChainFixtures.Cli c = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), args.toArray(String[]::new));
            assertEquals(2, c.rc(), bad + ": " + c.err());
        }
        assertEquals(List.of(), k.calls);
    }

    @Test
    void execAndUnloadCommands() {
        RecordingKexec k = new RecordingKexec();
        Services s = Services.DEFAULT.withKexec(k::loader);
        ChainFixtures.Cli c = ChainFixtures.cli(s, "exec");
        assertEquals(2, c.rc());
        assertTrue(c.err().contains("no kernel is loaded"), c.err());
        k.loaded = true;
        k.crashLoaded = true;
        assertEquals(0, ChainFixtures.cli(s, "unload").rc());
        assertEquals(0, ChainFixtures.cli(s, "unload", "--crash").rc());
        assertEquals(List.of("unload", "unload crash"), k.calls);
        assertFalse(k.loaded || k.crashLoaded);
    }
}
