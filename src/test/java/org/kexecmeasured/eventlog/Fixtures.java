package org.kexecmeasured.eventlog;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/** The real event logs of the test resources ({@code eventlogs/}, provenance in its SOURCES.md) and tpm2_eventlog (the independent oracle). */
public final class Fixtures {
    public static final String BAD = "bad-garbage-34b.bin";

    private Fixtures() {
    }

    /** The directory of the event-log fixtures on the test class path. */
    public static Path eventlogs() {
        URL u = Fixtures.class.getResource("/eventlogs/SOURCES.md");
        if (u == null) fail("eventlogs/SOURCES.md is not on the test class path (src/test/resources/eventlogs)");
        try {
            return Path.of(u.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every *.bin log, sorted by name. */
    public static List<Path> allLogs() {
        try (var s = Files.list(eventlogs())) {
            List<Path> l = s.filter(x -> x.getFileName().toString().endsWith(".bin")).sorted().toList();
            if (l.size() < 10) fail("expected the shared event logs in " + eventlogs() + ", found " + l);
            return l;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The logs that parse (all but the garbage file). */
    public static List<Path> goodLogs() {
        return allLogs().stream().filter(x -> !x.getFileName().toString().equals(BAD)).toList();
    }

    public static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] read(String name) {
        return read(eventlogs().resolve(name));
    }

    /** Output of a finished external command. */
    public record Run(int exit, String out, String err) {
    }

    /** Runs tpm2_eventlog on a file (fails the test, naming the package, when it is not installed). */
    public static Run tpm2Eventlog(Path log) {
        Path tool = null;
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path c = Path.of(dir, "tpm2_eventlog");
            if (Files.isExecutable(c)) {
                tool = c;
                break;
            }
        }
        if (tool == null) fail("tpm2_eventlog not found: install the Debian package tpm2-tools (tests/bin/install-deps)");
        try {
            Path out = Files.createTempFile("tpm2-eventlog", ".out");
            Path err = Files.createTempFile("tpm2-eventlog", ".err");
            try {
                Process pr = new ProcessBuilder(tool.toString(), log.toString())
                        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                if (!pr.waitFor(60, TimeUnit.SECONDS)) {
                    pr.destroyForcibly();
                    fail("tpm2_eventlog hung on " + log);
                }
                return new Run(pr.exitValue(), Files.readString(out, java.nio.charset.StandardCharsets.ISO_8859_1),
                        Files.readString(err, java.nio.charset.StandardCharsets.ISO_8859_1));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The text from the "pcrs:" line to the end, or null when the tool printed none. */
    public static String pcrsSection(String yaml) {
        int i = yaml.startsWith("pcrs:") ? 0 : yaml.indexOf("\npcrs:");
        if (i < 0) return null;
        return yaml.substring(i == 0 ? 0 : i + 1);
    }
}
