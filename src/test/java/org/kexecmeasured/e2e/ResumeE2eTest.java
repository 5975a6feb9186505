package org.kexecmeasured.e2e;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Resume mode on a real (virtual) machine (tests/e2e/run-resume): QEMU + OVMF + swtpm, the guest's own kernel and
 * kexec_load.
 * <ul>
 *   <li>"resume": {@code boot /boot/memtest86+x64.efi --full-emulation} in a firmware-booted generation, then
 *   {@code exec}: memtest86+ — no Linux kernel — goes on natively from where its ExitBootServices returned in the
 *   emulator, and its own banner appears on the second serial port after the exec (memtest is the oracle: only
 *   its code, running natively, writes that banner to a UART). The load happened before the commit and the commit changed the boundary
 *   PCRs (sysfs before and after).</li>
 *   <li>"resume-linux" (a Linux UKI resumed the same way): {@link ResumeLinuxE2eTest}, outside the default run.</li>
 *   <li>"resume-sb": under Secure Boot lockdown the same boot is refused (exit 2, "locked down") and no PCR of any
 *   bank changed, nothing was loaded.</li>
 * </ul>
 */
@Tag("e2e")
class ResumeE2eTest {
    /** Runs tests/e2e/run-resume SCENARIO once per JVM ({@link E2eRun}); fails (never skips) when it did not finish. */
    static Path run(String scenario) {
        return E2eRun.run("run-resume", scenario, 2400);
    }

    @Test
    void memtestResumedThroughKexecLoadWritesItsOwnBannerToTheSerialConsole() throws IOException {
        Path run = run("resume");
        Path s = E2eRun.stage(run, "rs1");
        String err = E2eRun.text(s.resolve("resume.err"));
        assertEquals("0", E2eRun.text(s.resolve("resume.rc")).strip(), "boot --full-emulation: " + err);
        assertEquals("1", E2eRun.text(s.resolve("kexec_loaded-after")).strip(), "a kernel image is loaded for kexec");
        String json = E2eRun.text(s.resolve("resume.json"));
        assertTrue(json.contains("\"extendCommands\""), json);
        // the commit extended the boundary PCRs: sysfs before and after differ in PCR 12/13 of every bank
        Map<HashAlg, byte[][]> before = E2eRun.pcrs(s.resolve("pcrs-before.txt"));
        Map<HashAlg, byte[][]> after = E2eRun.pcrs(s.resolve("pcrs-after.txt"));
        for (HashAlg a : before.keySet()) {
            boolean changed = false;
            for (int i = 0; i < 24; i++) changed |= !Hex.of(before.get(a)[i]).equals(Hex.of(after.get(a)[i]));
            assertTrue(changed, a + ": the commit extended nothing");
        }
        // the exec happened (the stage never got past it) and memtest's own banner is on COM2 (its console=ttyS1;
        // OVMF's boot messages go there too, the guest's Linux uses ttyS0): only memtest's code running natively
        // writes that banner to a UART (the emulated run's ConOut went into the tool's JSON)
        List<String> console = Files.readAllLines(run.resolve("console.log"), StandardCharsets.ISO_8859_1);
        double exec = -1, seen = -1;
        for (String l : console) {
            if (exec < 0 && l.contains("KM-MARK exec rs1")) exec = Double.parseDouble(l.split(" ")[0]);
            if (seen < 0 && l.contains("run-resume: memtest86+ banner on COM2")) seen = Double.parseDouble(l.split(" ")[0]);
        }
        assertTrue(exec > 0, "the guest never reached the exec; console:\n" + E2eRun.tail(run.resolve("console.log"), 30));
        assertFalse(Files.exists(s.resolve("exec.rc")), () -> "exec returned: " + E2eRun.text(s.resolve("exec.out")));
        String com2 = new String(Files.readAllBytes(run.resolve("memtest-serial.log")), StandardCharsets.ISO_8859_1);
        assertTrue(com2.contains("Memtest86+ v"), "no memtest86+ banner on COM2: " + com2.substring(0, Math.min(300, com2.length())));
        // memtest found the RAM the emulated firmware gave it (its EFI memory map): a few hundred MB, not the guest's 2 GiB
        assertTrue(com2.matches("(?s).*Memory  :\\s+\\d+MB.*"), com2.substring(0, Math.min(600, com2.length())));
        System.out.printf("resume e2e: exec -> memtest banner seen within %.1f s (host clock, TCG, 2 s polling)%n", seen - exec);
    }

    @Test
    void underSecureBootLockdownResumeModeIsRefusedAndTheTpmIsUntouched() {
        Path run = run("resume-sb");
        Path s = E2eRun.stage(run, "rs-sb1");
        String l = E2eRun.text(s.resolve("lockdown"));
        assertTrue(l.contains("[integrity]") || l.contains("[confidentiality]"), l);
        String err = E2eRun.text(s.resolve("resume.err"));
        assertEquals("2", E2eRun.text(s.resolve("resume.rc")).strip(), err);
        assertTrue(err.contains("locked down") && err.contains("kexec_load"), err);
        Map<HashAlg, byte[][]> before = E2eRun.pcrs(s.resolve("pcrs-before.txt"));
        Map<HashAlg, byte[][]> after = E2eRun.pcrs(s.resolve("pcrs-after.txt"));
        for (HashAlg a : before.keySet()) {
            for (int i = 0; i < 24; i++) {
                assertEquals(Hex.of(before.get(a)[i]), Hex.of(after.get(a)[i]), "refused boot left " + a + " PCR " + i);
            }
        }
        assertEquals("0", E2eRun.text(s.resolve("kexec_loaded-after")).strip(), "nothing loaded");
        assertFalse(Files.exists(s.resolve("resume.state.journal.jsonl")), "no journal");
    }
}
