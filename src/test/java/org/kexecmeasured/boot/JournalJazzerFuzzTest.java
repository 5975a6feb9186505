package org.kexecmeasured.boot;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coverage-guided fuzz target (Jazzer) for the journal parser and what recovery does with a parsed
 * journal. The fuzzer edits a real journal (a boot's shape: header with origin, intents, done, failed,
 * logged, finished): patches bytes, cuts, duplicates, drops or swaps lines, and half the time re-seals
 * the check chain afterwards (recomputed here from the spec, tcg2/journal.md), so the strict type and
 * history checks behind the chain are reached too. Only success or BadInputException may leave {@link
 * Journal#parse}; a parsed journal must hold what the spec allows (sequence numbers in order, PCR 0–23,
 * digest sizes per bank), and recovery's analysis and log rebuild must not fail otherwise.
 *
 * <p>The default test run replays the stored inputs ({@code JournalJazzerFuzzTestInputs}); {@code
 * JAZZER_FUZZ=1 mvn -B -ntp test -Dtest='JournalJazzerFuzzTest#parseEditedJournal'} fuzzes for its
 * maxDuration; {@code -Pslow} runs {@link #tenMinuteFuzzRun} (Jazzer's driver in a child JVM, 10 minutes),
 * which prints libFuzzer's executions and fails on any finding.
 */
class JournalJazzerFuzzTest {

    private static final Pattern CHECK = Pattern.compile(",\"check\":\"[0-9a-f]*\"}$");
    private static List<byte[]> seedLines;
    private static EventLog firmware;

    @FuzzTest(maxDuration = "2m")
    void parseEditedJournal(FuzzedDataProvider data) {
        fuzzerTestOneInput(data);
    }

    /** The entry point of Jazzer's standalone driver (the slow run) and of the JUnit target above. */
    public static void fuzzerTestOneInput(FuzzedDataProvider data) {
        if (seedLines == null) init();
        List<byte[]> lines = new ArrayList<>(seedLines);
        int edits = data.consumeInt(0, 6);
        for (int i = 0; i < edits && !lines.isEmpty(); i++) {
            int at = data.consumeInt(0, lines.size() - 1);
            switch (data.consumeInt(0, 5)) {
                case 0 -> {
                    byte[] l = lines.get(at).clone();
                    if (l.length > 0) l[data.consumeInt(0, l.length - 1)] = data.consumeByte();
                    lines.set(at, l);
                }
                case 1 -> lines.remove(at);
                case 2 -> lines.add(data.consumeInt(0, lines.size()), lines.get(at));
                case 3 -> {
                    int other = data.consumeInt(0, lines.size() - 1);
                    byte[] t = lines.get(at);
                    lines.set(at, lines.get(other));
                    lines.set(other, t);
                }
                case 4 -> lines.set(at, data.consumeBytes(200));
                default -> {
                    String l = new String(lines.get(at), StandardCharsets.UTF_8);
                    String v = data.consumeString(24);
                    // replace one JSON value (number or string) by the fuzzer's text
                    Matcher m = Pattern.compile(":(\"[^\"]*\"|-?[0-9]+)").matcher(l);
                    int n = 0;
                    int pick = data.consumeInt(0, 12);
                    while (m.find()) {
                        if (n++ == pick) {
                            l = l.substring(0, m.start(1)) + v + l.substring(m.end(1));
                            break;
                        }
                    }
                    lines.set(at, l.getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        if (data.consumeBoolean()) lines = reseal(lines);
        byte[] journal = join(lines, data.consumeBoolean());
        Journal.Contents c;
        try {
            c = Journal.parse("fuzz", journal);
        } catch (BadInputException expected) {
            return;
        }
        long seq = 1;
        for (Journal.Entry e : c.entries()) {
            if (e.seq() != seq++) throw new IllegalStateException("sequence " + e.seq());
            if (e.measurement().pcr() < 0 || e.measurement().pcr() > 23) throw new IllegalStateException("pcr");
            for (Map.Entry<HashAlg, byte[]> d : e.measurement().digests().entrySet()) {
                if (d.getValue().length != d.getKey().size) throw new IllegalStateException("digest size");
            }
        }
        try {
            JournalRecovery.analyse(c, c.start());
            JournalRecovery.rebuildLog(firmware, c);
        } catch (BadInputException expected) {
            // an open intent, a digest the log's bank lacks
        }
    }

    private static synchronized void init() {
        try {
            Path dir = Files.createTempDirectory("journal-fuzz");
            Path f = dir.resolve("journal.jsonl");
            firmware = EventLog.parse(Fixtures.read(Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin")));
            List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256);
            Map<HashAlg, Map<Integer, byte[]>> start = new EnumMap<>(HashAlg.class);
            for (HashAlg a : banks) {
                Map<Integer, byte[]> m = new TreeMap<>();
                for (int p : List.of(4, 5, 9, 11, 12, 13)) m.put(p, new byte[a.size]);
                start.put(a, m);
            }
            byte[] fw = firmware.toBytes();
            Journal.Origin o = new Journal.Origin(new byte[16], Journal.FIRMWARE_LOG_FILE, HashAlg.SHA256.digest(fw),
                    fw.length, "/run/kexec-measured/eventlog.bin");
            try (Journal j = Journal.create(f, o, start)) {
                j.done(j.intent(Measurement.of(4, 6, banks, "boundary".getBytes(), "boundary".getBytes())));
                j.done(j.intent(Measurement.of(11, 6, banks, "boundary".getBytes(), "boundary".getBytes())));
                j.logged(new Measurement(5, 3, new EnumMap<>(HashAlg.class), new byte[]{1, 2, 3}));
                j.failed(j.intent(Measurement.of(12, 0xD, banks, "cmdline".getBytes(), "cmdline".getBytes())), "TPM_RC_FAILURE");
                j.done(j.intent(Measurement.of(12, 0xD, banks, "cmdline".getBytes(), "cmdline".getBytes())));
                j.finish();
            }
            List<byte[]> l = new ArrayList<>();
            for (String s : Files.readAllLines(f, StandardCharsets.UTF_8)) l.add(s.getBytes(StandardCharsets.UTF_8));
            seedLines = l;
            Files.delete(f);
            Files.delete(dir);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Recomputes every line's check by the spec's rule (a line without a check member gets none). */
    static List<byte[]> reseal(List<byte[]> lines) {
        List<byte[]> out = new ArrayList<>();
        byte[] prev = new byte[0];
        for (byte[] raw : lines) {
            String l = new String(raw, StandardCharsets.UTF_8);
            Matcher m = CHECK.matcher(l);
            if (!m.find()) {
                out.add(raw);
                continue;
            }
            String body = l.substring(0, m.start()) + "}";
            try {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                md.update(prev);
                prev = md.digest(body.getBytes(StandardCharsets.UTF_8));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            out.add((l.substring(0, m.start()) + ",\"check\":\"" + HexFormat.of().formatHex(prev) + "\"}")
                    .getBytes(StandardCharsets.UTF_8));
        }
        return out;
    }

    private static byte[] join(List<byte[]> lines, boolean tornTail) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int i = 0; i < lines.size(); i++) {
            b.writeBytes(lines.get(i));
            if (!(tornTail && i == lines.size() - 1)) b.write('\n');
        }
        return b.toByteArray();
    }

    /** The unedited seed parses, and re-sealing it changes nothing: the test's chain is the spec's. */
    @Test
    void theSeedIsAValidJournalAndResealingKeepsIt() {
        init();
        Journal.Contents c = Journal.parse("seed", join(seedLines, false));
        assertTrue(c.finished());
        assertEquals(5, c.entries().size());
        List<byte[]> again = reseal(seedLines);
        for (int i = 0; i < seedLines.size(); i++) {
            assertEquals(new String(seedLines.get(i), StandardCharsets.UTF_8), new String(again.get(i), StandardCharsets.UTF_8));
        }
    }

    /**
     * -Pslow: Jazzer's standalone driver fuzzes {@link #fuzzerTestOneInput} for 10 minutes in a child JVM
     * (the JUnit integration fuzzes only when JAZZER_FUZZ is set in the environment); libFuzzer's summary
     * is printed, and any finding fails the test.
     */
    @Test
    @Tag("slow")
    void tenMinuteFuzzRun(@TempDir Path work) throws Exception {
        long seconds = Long.getLong("journal.fuzz.seconds", 600);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path corpus = Files.createDirectories(work.resolve("corpus"));
        Process p = new ProcessBuilder(java, "-Xmx2g", "-cp", System.getProperty("java.class.path"),
                "com.code_intelligence.jazzer.Jazzer", "--target_class=" + JournalJazzerFuzzTest.class.getName(),
                "-max_total_time=" + seconds, "-rss_limit_mb=4096", corpus.toString())
                .directory(work.toFile()).redirectErrorStream(true).redirectOutput(work.resolve("jazzer.log").toFile()).start();
        assertTrue(p.waitFor(seconds + 300, TimeUnit.SECONDS), "Jazzer did not stop");
        String log = Files.readString(work.resolve("jazzer.log"));
        Matcher done = Pattern.compile("Done (\\d+) runs in (\\d+) second").matcher(log);
        String summary = done.find() ? done.group(0) : "(no summary)";
        System.out.println("JournalJazzerFuzzTest: " + summary + "; corpus " + Files.list(corpus).count() + " inputs");
        assertEquals(0, p.exitValue(), "a finding (or a crash of the driver):\n" + log.substring(Math.max(0, log.length() - 4000)));
        assertTrue(done.find(0), "no libFuzzer summary:\n" + log.substring(Math.max(0, log.length() - 4000)));
    }
}
