package org.kexecmeasured.e2e;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Resume mode of a Linux kernel on a real (virtual) machine (tests/e2e/run-resume resume-linux): {@code boot rl2.efi
 * --full-emulation} (a UKI with Debian's kernel) in a firmware-booted generation, then {@code exec}: the kernel its
 * EFI stub decompressed in the emulator starts natively from the stub's jump, with boot_params pointed at the real
 * firmware (SETUP_EFI), and generation 2 reaches its /init. Its {@code binary_bios_measurements} — what the kernel
 * built from the LINUX_EFI_TPM_EVENT_LOG entry it found in its configuration table — is the continued log generation
 * 1's boot wrote, byte for byte, and that log replays (ours and tpm2_eventlog) to generation 2's PCRs read from sysfs.
 *
 * <p>In the default e2e run: 177 s on a quiet machine (the Linux stub's emulation under TCG is most of it; 9–12.5
 * minutes on the shared machine under load — tests/e2e/README.md).
 */
@Tag("e2e")
class ResumeLinuxE2eTest {

    @Test
    void linuxResumedThroughKexecLoadReachesInitWithTheContinuedLogAsItsFirmwareLog() {
        Path run = ResumeE2eTest.run("resume-linux");
        Path s1 = E2eRun.stage(run, "rl1");
        String err = E2eRun.text(s1.resolve("resume-linux.err"));
        assertEquals("0", E2eRun.text(s1.resolve("resume-linux.rc")).strip(), "boot --full-emulation: " + err);
        assertEquals("1", E2eRun.text(s1.resolve("kexec_loaded-after")).strip(), "a kernel image is loaded for kexec");
        byte[] continued = E2eRun.bytes(s1.resolve("resume-linux.state.eventlog.bin"));
        // generation 2 is the resumed UKI's kernel (its command line came from the emulated stub's boot_params)
        Path s2 = E2eRun.stage(run, "rl2");
        assertTrue(E2eRun.text(s2.resolve("cmdline")).contains("km.stage=rl2"), E2eRun.text(s2.resolve("cmdline")));
        assertFalse(Files.exists(s1.resolve("exec.rc")), () -> "exec returned: " + E2eRun.text(s1.resolve("exec.out")));
        byte[] firmwareLog = E2eRun.bytes(s2.resolve("securityfs-log.bin"));
        byte[] gen1Log = E2eRun.bytes(s1.resolve("securityfs-log.bin"));
        assertTrue(continued.length > gen1Log.length, "the continued log extends generation 1's");
        assertEquals(-1, java.util.Arrays.mismatch(firmwareLog, continued),
                "generation 2's binary_bios_measurements (" + firmwareLog.length + " bytes) is the continued log ("
                        + continued.length + " bytes) byte for byte; first difference at the offset shown");
        // and it replays to generation 2's PCRs (PCR 10 with generation 2's own IMA list after it)
        Path logFile = s2.resolve("securityfs-log.bin");
        Map<HashAlg, byte[][]> tpm = E2eRun.pcrs(s2.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> ours = Replay.replay(E2eRun.log(logFile));
        Map<HashAlg, byte[][]> theirs = Tpm2EventlogOracle.replay(logFile);
        for (HashAlg a : tpm.keySet()) {
            for (int i = 0; i < 16; i++) {
                byte[] expected = tpm.get(a)[i];
                if (i == 10) {
                    assertArrayEquals(expected, E2eRun.withIma(ours.get(a)[10], s2.resolve("ima.bin"), a),
                            "rl2 " + a + " PCR 10 = the log + this generation's IMA list");
                    continue;
                }
                assertEquals(Hex.of(expected), Hex.of(ours.get(a)[i]), "rl2 " + a + " PCR " + i + " (our replay)");
                assertEquals(Hex.of(expected), Hex.of(theirs.get(a)[i]), "rl2 " + a + " PCR " + i + " (tpm2_eventlog)");
            }
        }
        List<String> console;
        try {
            console = Files.readAllLines(run.resolve("console.log"), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        double start = -1, exec = -1, init = -1;
        for (String l : console) {
            if (start < 0 && l.contains("KM-MARK tool-start resume-linux")) start = Double.parseDouble(l.split(" ")[0]);
            if (exec < 0 && l.contains("KM-MARK exec rl1")) exec = Double.parseDouble(l.split(" ")[0]);
            if (init < 0 && l.contains("KM-MARK stage rl2")) init = Double.parseDouble(l.split(" ")[0]);
        }
        System.out.printf("resume-linux e2e: tool %.1f s, exec -> rl2 stage %.1f s (host clock, TCG)%n", exec - start, init - exec);
    }

    /**
     * What a further resume from rl2 would read (kexec.HostEfi): rl2's configuration table is the copy in the SETUP_EFI
     * node rl1's boot handed it — the first setup_data node, where /sys/kernel/boot_params/setup_data/0 shows it — and
     * the kernel refuses that System RAM through /dev/mem (HostEfi reads it from setup_data), while the firmware's system
     * table (EFI runtime data) stays readable there. HostEfiTest reads the tree rl2 saved (a copy of one run's, with
     * provenance) as the parser's real-bytes fixture.
     */
    @Test
    void rl2sConfigurationTableIsInItsFirstSetupDataNodeWhichDevMemRefuses() {
        Path s2 = E2eRun.stage(ResumeE2eTest.run("resume-linux"), "rl2");
        Path h = s2.resolve("host-efi");
        assertEquals("0x4", E2eRun.text(s2.resolve("setup_data/0/type")).strip(), "SETUP_EFI first in the chain");
        byte[] bp = E2eRun.bytes(s2.resolve("boot_params.bin"));
        byte[] node = E2eRun.bytes(s2.resolve("setup_data/0/data"));
        long first = java.nio.ByteBuffer.wrap(bp).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0x250); // hdr.setup_data
        long tables = Long.decode(E2eRun.text(s2.resolve("config_table")).strip());
        long esdTables = java.nio.ByteBuffer.wrap(node).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(16); // efi_setup_data.tables
        assertEquals(tables, esdTables, "the kernel's config_table is SETUP_EFI's tables");
        assertTrue(tables > first + 16 && tables < first + 16 + node.length, "the table lies in node 0's payload");
        assertEquals("0", E2eRun.text(h.resolve("systab.rc")).strip(), () -> E2eRun.text(h.resolve("systab.err")));
        assertFalse(E2eRun.text(h.resolve("config-table.rc")).strip().equals("0"),
                "a resumed kernel's /dev/mem refuses the table copy (System RAM): " + E2eRun.text(h.resolve("config-table.err")));
    }

}
