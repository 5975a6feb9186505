package org.kexecmeasured.uefi;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.cli.testing.TerminalRun.Run;
import org.junit.jupiter.api.io.TempDir;

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
 * The progress line of a long emulation, seen the way an operator sees it: the tool runs under a real
 * pseudo-terminal (util-linux's script(1)), and separately with pipes and with --json, where nothing of
 * it may appear. The payload is a tiny EFI application that calls GetNextMonotonicCount in a loop until
 * the time budget ends the run (exit 2), so the line must show calls growing and the budget shrinking. (Not
 * Stall: a payload that only waits is ended early as stuck by IdleWatch, on a fast machine before the budget.)
 */
class EmulateProgressTest {
    @TempDir
    static Path dir;
    static Path payload;

    @BeforeAll
    static void build() throws Exception {
        payload = dir.resolve("count-loop.efi");
        Files.write(payload, TestPayloads.countLoop());
    }

    static final Pattern LINE = Pattern.compile(
            "kexec-measured: emulating, ([^·]+) · ([\\d,]+) service calls · ([\\d.]+) s · (\\d+) s left of the 4 s budget");

    @Test
    void aTerminalSeesCallsGrowAndTheBudgetShrink() throws Exception {
        Run r = onTerminal(tool("emulate", payload.toString(), "--time-budget", "4s"));
        assertEquals(2, r.rc(), r.out());
        assertTrue(r.out().contains("time budget"), "the run ended by its budget: " + r.out());
        Matcher m = LINE.matcher(r.out());
        List<Long> calls = new ArrayList<>();
        List<Double> secs = new ArrayList<>();
        while (m.find()) {
            calls.add(Long.parseLong(m.group(2).replace(",", "")));
            secs.add(Double.parseDouble(m.group(3)));
            assertEquals("boot services, to the kernel cut-over", m.group(1).strip());
        }
        assertTrue(calls.size() >= 3, "several redraws in ~3 s after the first second: " + r.out());
        assertTrue(secs.get(0) >= 1.0, "nothing before the first second: " + secs);
        assertTrue(calls.get(calls.size() - 1) > calls.get(0), "the call count grows: " + calls);
        assertTrue(r.out().contains("\r\033[K"), "the line is redrawn in place and erased");
        int lastLine = r.out().lastIndexOf("kexec-measured: emulating");
        int error = r.out().indexOf("kexec-measured: error");
        assertTrue(error > lastLine, "the error comes after the progress line, which was erased first");
    }

    @Test
    void nothingWithJsonOrWithoutATerminal() throws Exception {
        Run json = onTerminal(tool("emulate", payload.toString(), "--time-budget", "2s", "--json"));
        assertEquals(2, json.rc(), json.out());
        assertFalse(json.out().contains("emulating,"), json.out());
        Run piped = run(tool("emulate", payload.toString(), "--time-budget", "2s"));
        assertEquals(2, piped.rc(), piped.out());
        assertFalse(piped.out().contains("emulating,"), piped.out());
        assertFalse(piped.out().contains("\033["), "no terminal control sequences in a pipe");
    }
}
