package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.kexecmeasured.cli.testing.TerminalRun.Run;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.uefi.TestPayloads;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.kexecmeasured.cli.testing.TerminalRun.onTerminal;
import static org.kexecmeasured.cli.testing.TerminalRun.run;
import static org.kexecmeasured.cli.testing.TerminalRun.tool;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The progress line of {@code boot} and {@code predict}, seen the way an operator sees it: the tool runs
 * under a real pseudo-terminal (util-linux's script(1)), and separately with a pipe and with --json,
 * where nothing of it may appear. The payload is a tiny EFI application that calls
 * GetNextMonotonicCount in a loop until the time budget ends the emulation (exit 2, nothing extended),
 * so the line must show the emulation step with its calls growing and the budget shrinking. Nothing
 * here depends on the machine's speed: the run lasts as long as its budget, the line starts after one
 * second of it, and the assertions compare the line's own successive values.
 */
class BootProgressTest {
    @TempDir
    static Path dir;
    static Path payload;
    static Path firmware;
    static Path pcrs;
    @RegisterExtension
    static final SwtpmExtension SWTPM = SwtpmExtension.withBanks("sha256");

    @BeforeAll
    static void setUp() throws Exception {
        payload = dir.resolve("count-loop.efi");
        Files.write(payload, TestPayloads.countLoop());
        firmware = dir.resolve("firmware.bin");
        Files.write(firmware, EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build().toBytes());
        // a PCR snapshot in tpm2_pcrread's format: a fresh TPM's sha256 bank
        StringBuilder s = new StringBuilder("  sha256:\n");
        for (int i = 0; i < 24; i++) {
            s.append(String.format("    %-2d: 0x%s%n", i, (i >= 17 && i <= 22 ? "FF" : "00").repeat(32)));
        }
        pcrs = dir.resolve("pcrs.yaml");
        Files.writeString(pcrs, s.toString());
    }

    static List<String> boot(String budget, String... more) {
        List<String> a = new ArrayList<>(List.of("boot", payload.toString(), "--tpm", SWTPM.swtpm().tcti(), "--firmware-log",
                firmware.toString(), "--state-dir", dir.resolve("state").toString(), "--no-load", "--time-budget", budget));
        a.addAll(List.of(more));
        return tool(a.toArray(String[]::new));
    }

    static List<String> predict(String budget, String... more) {
        List<String> a = new ArrayList<>(List.of("predict", "--policy", Path.of("policy/minimal.yaml").toAbsolutePath().toString(),
                payload.toString(), "--pcrs", pcrs.toString(), "--firmware-log", firmware.toString(), "--time-budget", budget));
        a.addAll(List.of(more));
        return tool(a.toArray(String[]::new));
    }

    /** The lines drawn while the payload ran: calls, seconds since the start, seconds left of the 4 s budget. */
    static void assertEmulationProgress(String command, Run r) {
        assertEquals(2, r.rc(), r.out());
        assertTrue(r.out().contains("time budget"), "the emulation ended by its budget: " + r.out());
        Matcher m = Pattern.compile("kexec-measured: " + command + ": emulating the payload, ([^·]+) · ([\\d,]+) service calls"
                + " · ([\\d.]+) s · (\\d+) s left of the 4 s budget").matcher(r.out());
        List<Long> calls = new ArrayList<>();
        List<Double> secs = new ArrayList<>();
        List<Integer> left = new ArrayList<>();
        while (m.find()) {
            assertEquals("boot services", m.group(1).strip(), "the payload never loads or starts an image");
            calls.add(Long.parseLong(m.group(2).replace(",", "")));
            secs.add(Double.parseDouble(m.group(3)));
            left.add(Integer.parseInt(m.group(4)));
        }
        assertTrue(calls.size() >= 3, "several redraws while the 4 s budget runs out after the first second: " + r.out());
        assertTrue(secs.get(0) >= 1.0, "nothing before the first second: " + secs);
        assertTrue(calls.get(calls.size() - 1) > calls.get(0), "the call count grows: " + calls);
        for (int i = 1; i < left.size(); i++) assertTrue(left.get(i) <= left.get(i - 1), "the budget only shrinks: " + left);
        assertTrue(left.get(left.size() - 1) < 4, "some of the budget was used: " + left);
        assertTrue(r.out().contains("\r\033[K"), "the line is redrawn in place and erased");
        int lastLine = r.out().lastIndexOf("kexec-measured: " + command + ":");
        int error = r.out().indexOf("kexec-measured: error");
        assertTrue(error > lastLine, "the error comes after the progress line, which was erased first");
    }

    @Test
    void bootOnATerminalShowsTheEmulationsCallsAndBudget() throws Exception {
        assertEmulationProgress("boot", onTerminal(boot("4s")));
    }

    @Test
    void predictOnATerminalShowsTheEmulationsCallsAndBudget() throws Exception {
        assertEmulationProgress("predict", onTerminal(predict("4s")));
    }

    @Test
    void nothingWithJsonOrWithoutATerminal() throws Exception {
        for (List<String> cmd : List.of(boot("2s", "--json"), predict("2s", "--json"))) {
            Run r = onTerminal(cmd);
            assertEquals(2, r.rc(), r.out());
            assertFalse(r.out().contains("emulating the payload"), r.out());
        }
        for (List<String> cmd : List.of(boot("2s"), predict("2s"))) {
            Run r = run(cmd);
            assertEquals(2, r.rc(), r.out());
            assertFalse(r.out().contains("emulating the payload"), r.out());
            assertFalse(r.out().contains("\033["), "no terminal control sequences in a pipe");
        }
    }
}
