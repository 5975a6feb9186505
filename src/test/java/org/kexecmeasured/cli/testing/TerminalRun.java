package org.kexecmeasured.cli.testing;

import org.kexecmeasured.cli.Main;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tool in a child JVM, under a real pseudo-terminal (util-linux's script(1)) or with pipes: what the progress
 * tests ({@code BootProgressTest}, {@code EmulateProgressTest}) compare. Output and errors are one stream, as a
 * terminal shows them.
 */
public final class TerminalRun {

    /** Exit code and what the terminal (or the pipe) showed. */
    public record Run(int rc, String out) {
    }

    private TerminalRun() {
    }

    /** {@code java -cp <the test's class path> Main ARGS}. */
    public static List<String> tool(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Under script(1): stdout and stderr are the same pseudo-terminal; its output is what the terminal showed. */
    public static Run onTerminal(List<String> cmd) throws Exception {
        Path script = Path.of("/usr/bin/script");
        assertTrue(Files.isExecutable(script), "script(1) missing: install the Debian package bsdutils");
        String line = String.join(" ", cmd.stream().map(s -> "'" + s.replace("'", "'\\''") + "'").toList());
        return run(List.of(script.toString(), "-qefc", line, "/dev/null"));
    }

    /** With pipes (no terminal), stderr into stdout; fails the test after 3 minutes. */
    public static Run run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "timed out: " + cmd);
        return new Run(p.exitValue(), out);
    }
}
