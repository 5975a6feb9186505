package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.util.HashAlg;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real parts for the measured-chain tests: make-uki, Debian's EFI binaries, a firmware state in swtpm. */
final class ChainFixtures {
    private ChainFixtures() {
    }

    static final Path STUB = Path.of("/usr/lib/systemd/boot/efi/linuxx64.efi.stub");
    static final Path SD_BOOT = Path.of("/usr/lib/systemd/boot/efi/systemd-bootx64.efi");
    static final Path SYSTEMD_MEASURE = Path.of("/lib/systemd/systemd-measure");
    /** The three PCR banks most boot tests give their swtpm. */
    static final List<String> THREE_BANKS = List.of("sha1", "sha256", "sha384");

    static Path require(Path p, String pkg) {
        assertTrue(Files.isRegularFile(p), p + " is missing: install the Debian package " + pkg + " (tests/bin/install-deps)");
        return p;
    }

    /** tests/bin/make-uki OUT: demo.efi, vmlinuz, initrd.cpio, cmdline.txt, os-release. */
    static Path makeUki(Path out) throws Exception {
        require(STUB, "systemd-boot-efi");
        Process p = new ProcessBuilder("sh", Path.of("tests/bin/make-uki").toAbsolutePath().toString(), out.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "make-uki timed out");
        assertEquals(0, p.exitValue(), "make-uki failed (needs binutils, cpio, linux-image-amd64): " + log);
        return out;
    }

    /**
     * Brings a fresh swtpm to the firmware state of a real log by extending its records. Only a test
     * does this: kexec-measured never replays a log into a TPM.
     */
    static void replayIntoTpm(Swtpm swtpm, EventLog log) {
        try (Tpm tpm = swtpm.open()) {
            for (Event e : log.events()) {
                if (e.isNoAction() || e.pcrIndex() >= 16) continue;
                Map<HashAlg, byte[]> d = new LinkedHashMap<>();
                for (HashAlg a : tpm.banks()) d.put(a, e.digests().get(a));
                tpm.extend((int) e.pcrIndex(), d);
            }
        }
    }

    /**
     * A fresh swtpm with these PCR banks, brought to the firmware state of {@code log} (see
     * {@link #replayIntoTpm}); the caller closes it. Stopped again (state deleted) when the replay fails.
     */
    static Swtpm firmwareState(List<String> banks, EventLog log) {
        Swtpm s = Swtpm.start(banks);
        try {
            replayIntoTpm(s, log);
            return s;
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /** The same for the event-log file {@code fwFile}. */
    static Swtpm firmwareState(List<String> banks, Path fwFile) {
        return firmwareState(banks, EventLog.parse(Fixtures.read(fwFile)));
    }

    record Cli(int rc, String out, String err) {
    }

    static Cli cli(String... args) {
        return cli(Services.DEFAULT, args);
    }

    /** The CLI with the given services (e.g. a TPM opener that wraps the real TPM). */
    static Cli cli(Services services, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(args, new PrintWriter(out), new PrintWriter(err), services);
        return new Cli(rc, out.toString(), err.toString());
    }

    static Cli cli(int expected, String... args) {
        Cli c = cli(args);
        assertEquals(expected, c.rc(), String.join(" ", args) + "\n" + c.out() + c.err());
        return c;
    }

    /** Runs a tool, returns stdout+stderr; fails the test on a non-zero exit. */
    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " timed out");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    private static final Pattern PESIGN_HASH = Pattern.compile("hash: ([0-9a-f]+)");

    /** pesign -h: the Authenticode digest of a PE file (independent of our PE code). */
    static String pesignHash(Path file, String alg) throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/pesign")), "pesign missing: install the Debian package pesign");
        Matcher m = PESIGN_HASH.matcher(run("pesign", "-h", "-d", alg, "-i", file.toString()));
        assertTrue(m.find(), "no hash printed by pesign for " + file);
        return m.group(1);
    }
}
