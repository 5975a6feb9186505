package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real systemd-journald (Debian's systemd package), started by the test in a private mount
 * namespace: tmpfs over /run/systemd, /run/log and /var/log/journal there, so it listens on its
 * usual socket and writes its usual runtime journal without touching the machine's (none runs on
 * these test machines). From outside, its socket and files are reached through
 * {@code /proc/PID/root/…}; a process started with {@link #inside} sees it at the standard path.
 * Entries are read back with journalctl. Needs root (unshare, nsenter from util-linux).
 */
final class PrivateJournald implements AutoCloseable {
    static final Path JOURNALD = Path.of("/lib/systemd/systemd-journald");
    private static final String SCRIPT = """
            set -e
            for d in /run/systemd /run/log /var/log/journal; do
              [ -d "$d" ] || continue
              mount -t tmpfs -o mode=0755 tmpfs "$d"
            done
            mkdir -p /run/systemd/journal /run/log/journal
            exec /lib/systemd/systemd-journald
            """;

    private final Process process;

    private PrivateJournald(Process process) {
        this.process = process;
    }

    static PrivateJournald start(Path work) throws Exception {
        assertTrue(Files.isExecutable(JOURNALD), JOURNALD + " missing: install the Debian package systemd (tests/bin/install-deps)");
        for (String tool : List.of("unshare", "nsenter", "journalctl")) {
            assertTrue(Files.isExecutable(Path.of("/usr/bin", tool)), tool + " missing: install the Debian package "
                    + (tool.equals("journalctl") ? "systemd" : "util-linux"));
        }
        Path log = Files.createTempFile(work, "journald", ".log");
        // unshare and sh exec into journald: the process we start is journald itself
        Process p = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "sh", "-c", SCRIPT)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        PrivateJournald j = new PrivateJournald(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.exists(j.socket())) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                j.close();
                fail("systemd-journald did not start in a private mount namespace (needs root):\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
        return j;
    }

    long pid() {
        return process.pid();
    }

    /** Its native-protocol socket, as seen from outside its namespace. */
    Path socket() {
        return Path.of("/proc", Long.toString(pid()), "root/run/systemd/journal/socket");
    }

    /** A command run inside its mount namespace (so /run/systemd/journal/socket is this journald's). */
    List<String> inside(List<String> cmd) {
        List<String> l = new ArrayList<>(List.of("nsenter", "--target", Long.toString(pid()), "--mount", "--"));
        l.addAll(cmd);
        return l;
    }

    /** Every entry so far, as journalctl --output=json gives them. */
    List<JsonNode> entries() throws Exception {
        Path root = Path.of("/proc", Long.toString(pid()), "root/run/log/journal");
        List<String> dirs;
        try (Stream<Path> s = Files.list(root)) {
            dirs = s.filter(Files::isDirectory).map(Path::toString).toList();
        }
        assertEquals(1, dirs.size(), "one machine directory in " + root + ": " + dirs);
        Process p = new ProcessBuilder("journalctl", "--directory", dirs.get(0), "--output=json", "--no-pager", "--all")
                .redirectErrorStream(false).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "journalctl timed out");
        List<JsonNode> l = new ArrayList<>();
        for (String line : out.split("\n")) if (!line.isBlank()) l.add(Json.MAPPER.readTree(line));
        return l;
    }

    /** Waits (journald writes asynchronously) until an entry matches, or fails after 15 s. */
    JsonNode await(Predicate<JsonNode> match, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            for (JsonNode e : entries()) if (match.test(e)) return e;
            if (System.nanoTime() > deadline) fail("no journal entry " + what + " in:\n" + entries());
            Thread.sleep(100);
        }
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
