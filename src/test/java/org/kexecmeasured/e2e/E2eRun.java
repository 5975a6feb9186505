package org.kexecmeasured.e2e;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.runtime.ImaLog;
import org.kexecmeasured.eventlog.runtime.RuntimeRecord;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * One run of a tests/e2e scenario (one VM, several generations) and readers for what the guest
 * reported in {@code target/e2e/SCENARIO/out/STAGE/}. A scenario runs once per JVM; several test
 * classes can share it. The VM's timeout is the script's (10× the reference medians, times
 * {@code -De2e.timeoutScale}); this side waits that long plus the builds. For development,
 * {@code -De2e.reuse=true} checks the results a previous run left in target/e2e instead of booting again.
 */
final class E2eRun {
    private static final Map<String, Path> DONE = new HashMap<>();
    private static final Map<String, String> FAILED = new HashMap<>();

    private E2eRun() {
    }

    /** Runs {@code tests/e2e/run SCENARIO}; returns the run directory. Fails (never skips) when the VM did not finish. */
    static Path run(String scenario) {
        return run("run", scenario, 3600);
    }

    /**
     * Runs {@code tests/e2e/SCRIPT SCENARIO} once per JVM ({@code run}, {@code run-resume}), waiting at most
     * {@code limitSeconds} × {@code -De2e.timeoutScale}; returns the run directory, {@code target/e2e/SCENARIO}.
     */
    static synchronized Path run(String script, String scenario, long limitSeconds) {
        String key = script + " " + scenario;
        if (FAILED.containsKey(key)) fail(FAILED.get(key));
        Path done = DONE.get(key);
        if (done != null) return done;
        Path root = RealParts.repoRoot();
        Path runDir = root.resolve("target/e2e").resolve(scenario);
        Path log = root.resolve("target/e2e").resolve(scenario + ".run.log");
        if (Boolean.getBoolean("e2e.reuse") && Files.isDirectory(runDir.resolve("out"))) {
            DONE.put(key, runDir);
            return runDir;
        }
        String scale = System.getProperty("e2e.timeoutScale", "1");
        try {
            Files.createDirectories(log.getParent());
            ProcessBuilder pb = new ProcessBuilder(root.resolve("tests/e2e").resolve(script).toString(), scenario)
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("E2E_TIMEOUT_SCALE", scale);
            Process p = pb.start();
            long limit = (long) (limitSeconds * Double.parseDouble(scale));
            if (!p.waitFor(limit, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroy);
                p.destroy();
                p.waitFor(30, TimeUnit.SECONDS);
                return failed(key, "tests/e2e/" + key + " did not finish in " + limit + " s", runDir, log);
            }
            if (p.exitValue() != 0) {
                return failed(key, "tests/e2e/" + key + " exited " + p.exitValue()
                        + (p.exitValue() == 124 ? " (VM timeout)" : ""), runDir, log);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        DONE.put(key, runDir);
        return runDir;
    }

    private static Path failed(String key, String what, Path runDir, Path log) {
        String msg = what + "; run log " + log + ":\n" + tail(log, 15) + "\nconsole " + runDir.resolve("console.log")
                + ":\n" + tail(runDir.resolve("console.log"), 25);
        FAILED.put(key, msg);
        fail(msg);
        return null;
    }

    static String tail(Path f, int lines) {
        try {
            List<String> l = Files.readAllLines(f, StandardCharsets.ISO_8859_1);
            return String.join("\n", l.subList(Math.max(0, l.size() - lines), l.size()));
        } catch (IOException e) {
            return "(" + f + " unreadable: " + e.getMessage() + ")";
        }
    }

    static Path stage(Path run, String stage) {
        Path d = run.resolve("out").resolve(stage);
        if (!Files.isDirectory(d)) {
            fail("the guest never reached stage " + stage + " (no " + d + "); console:\n" + tail(run.resolve("console.log"), 25));
        }
        return d;
    }

    static String text(Path f) {
        try {
            return Files.readString(f, StandardCharsets.UTF_8);
        } catch (IOException e) {
            fail("missing guest result " + f + ": " + e.getMessage());
            return null;
        }
    }

    static byte[] bytes(Path f) {
        try {
            return Files.readAllBytes(f);
        } catch (IOException e) {
            fail("missing guest result " + f + ": " + e.getMessage());
            return null;
        }
    }

    /** The PCRs the guest read from sysfs ("bank pcr HEX" lines). */
    /**
     * Every PCR 0–23 of every bank of {@code before} equal in {@code after}, but PCR 10: IMA measures in the running
     * kernel meanwhile (the caller says why). {@code what} names the step the PCRs must have survived.
     */
    static void assertSamePcrsButIma(Map<HashAlg, byte[][]> before, Map<HashAlg, byte[][]> after, String what) {
        for (HashAlg a : before.keySet()) {
            for (int i = 0; i < 24; i++) {
                if (i == 10) continue;
                org.junit.jupiter.api.Assertions.assertEquals(Hex.of(before.get(a)[i]), Hex.of(after.get(a)[i]),
                        what + ": " + a + " PCR " + i);
            }
        }
    }

    static Map<HashAlg, byte[][]> pcrs(Path f) {
        Map<HashAlg, byte[][]> m = new EnumMap<>(HashAlg.class);
        for (String line : text(f).split("\n")) {
            if (line.isBlank()) continue;
            String[] p = line.trim().split(" ");
            m.computeIfAbsent(HashAlg.fromName(p[0]), a -> new byte[24][])[Integer.parseInt(p[1])] = Hex.parse(p[2]);
        }
        return m;
    }

    static EventLog log(Path f) {
        EventLogParser.Result r = EventLogParser.parseLenient(bytes(f));
        if (r.error() != null) fail(f + " does not parse: " + r.error().getMessage());
        return r.log();
    }

    /** PCR 10 as IMA's list of the stage extended it on top of {@code start}. */
    static byte[] withIma(byte[] start, Path imaList, HashAlg bank) {
        byte[] v = start.clone();
        for (RuntimeRecord r : ImaLog.parse(bytes(imaList), List.of(bank))) v = bank.extend(v, r.digests().get(bank));
        return v;
    }
}
