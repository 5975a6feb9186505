package org.kexecmeasured.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the CLI in a child JVM started as the launcher starts it (serial GC, C1 only), with the
 * test's class path, JVM options of the test's choosing (a small -Xmx), its own environment and
 * standard input. For what an in-process run cannot show: heap limits, JVM Errors, stdin, env; or
 * started without waiting ({@link #start}) for runs a test races or kills.
 */
final class ChildCli {
    record Result(int rc, String out, String err) {
    }

    private ChildCli() {
    }

    /**
     * Starts {@code mainClass ARGS} in a child JVM (-Xmx1g, CDS where it can, the test's class path and JNA
     * library path) with {@code env} added to the environment, standard output and error into {@code out}, and
     * returns at once: for the runs a test races or kills (ConcurrentBootsTest, KillNineTest).
     */
    static Process start(String mainClass, Map<String, String> env, Path out, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Xshare:auto"));
        String jna = System.getProperty("jna.library.path");
        if (jna != null) cmd.add("-Djna.library.path=" + jna);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    /** Runs {@code kexec-measured ARGS}; {@code stdin} null = empty input. Fails the test after 300 s. */
    static Result run(List<String> javaOpts, Map<String, String> env, Path stdin, String... args) {
        return run(javaOpts, env, stdin, true, args);
    }

    /** The same; with {@code keepOut} false standard output is discarded (large outputs) and out() is "". */
    static Result run(List<String> javaOpts, Map<String, String> env, Path stdin, boolean keepOut, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.addAll(javaOpts);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("org.kexecmeasured.cli.Main");
        cmd.addAll(List.of(args));
        try {
            Path out = Files.createTempFile("child-cli", ".out");
            Path err = Files.createTempFile("child-cli", ".err");
            try {
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(err.toFile())
                        .redirectOutput(keepOut ? ProcessBuilder.Redirect.to(out.toFile()) : ProcessBuilder.Redirect.DISCARD);
                pb.redirectInput(stdin != null ? ProcessBuilder.Redirect.from(stdin.toFile())
                        : ProcessBuilder.Redirect.from(new File("/dev/null")));
                pb.environment().putAll(env);
                Process p = pb.start();
                if (!p.waitFor(300, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    fail("kexec-measured " + String.join(" ", args) + " did not finish in 300 s");
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new AssertionError("cannot run a child JVM", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
