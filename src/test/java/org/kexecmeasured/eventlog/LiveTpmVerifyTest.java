package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real TPM (swtpm, libtpms) as the oracle for replay: a fresh swtpm gets every extending record
 * of a real three-bank log, then its PCRs (read with `kexec-measured tpm pcrs`) must verify
 * against the log. Only a test does this: kexec-measured never replays a firmware log into a TPM.
 */
class LiveTpmVerifyTest {

    private static String[] cli(int expected, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        assertEquals(expected, rc, String.join(" ", args) + "\n" + out + err);
        return new String[]{out.toString(), err.toString()};
    }

    @Test
    void swtpmExtendedWithTheLogVerifies() throws Exception {
        Path logFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        EventLog log = EventLog.parse(Fixtures.read(logFile));
        assertEquals(List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384), log.banks());
        try (Swtpm swtpm = Swtpm.start(List.of("sha1", "sha256", "sha384"))) {
            try (Tpm tpm = swtpm.open()) {
                for (Event e : log.events()) {
                    if (e.isNoAction() || e.pcrIndex() >= 16) continue;
                    Map<HashAlg, byte[]> d = new LinkedHashMap<>(e.digests());
                    tpm.extend((int) e.pcrIndex(), d);
                }
            }
            String json = cli(0, "tpm", "pcrs", "--tpm", swtpm.tcti(), "--json")[0];
            Path dir = Files.createTempDirectory("live-verify");
            Path f = dir.resolve("tpm.json");
            try {
                Files.writeString(f, json);
                String out = cli(0, "eventlog", "verify", logFile.toString(), "--pcrs", f.toString())[0];
                assertTrue(out.startsWith("ok: 72 PCR value(s)"), out); // 24 PCRs × 3 banks
                // and the TPM disagrees as soon as one more digest goes into a PCR the log covers
                try (Tpm tpm = swtpm.open()) {
                    Map<HashAlg, byte[]> one = new LinkedHashMap<>();
                    for (HashAlg a : log.banks()) one.put(a, a.digest(new byte[]{1}));
                    tpm.extend(9, one);
                }
                Files.writeString(f, cli(0, "tpm", "pcrs", "--tpm", swtpm.tcti(), "--json")[0]);
                String bad = cli(Main.EXIT_CHECK_FAILED, "eventlog", "verify", logFile.toString(), "--pcrs", f.toString())[0];
                assertEquals(3, bad.lines().filter(l -> l.startsWith("MISMATCH") && l.contains(" PCR 9:")).count(), bad);
                assertEquals(3, bad.lines().filter(l -> l.startsWith("MISMATCH")).count(), bad);
                assertTrue(bad.contains(Hex.of(Replay.replay(log).get(HashAlg.SHA256)[9])), bad);
            } finally {
                Files.deleteIfExists(f);
                Files.delete(dir);
            }
        }
    }
}
