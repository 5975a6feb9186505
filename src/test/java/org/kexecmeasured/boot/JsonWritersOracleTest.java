package org.kexecmeasured.boot;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.eventlog.export.CelJson;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.JsonOut;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every format a boot writes through {@link JsonOut} is byte for byte what databind writes for the same record (the
 * oracle: {@link Json#MAPPER} for the journal's lines, {@link Json#PRETTY} for the sidecar's files, reading each record's
 * {@code @JsonPropertyOrder} and {@code @JsonInclude} itself): every optional member present and absent, empty and long
 * lists, strings with controls, quotes and non-ASCII, extreme numbers, and the CEL-JSON of every real fixture log.
 */
class JsonWritersOracleTest {

    static final String[] TEXT = {"", "sha256", "a \"quoted\" \\ path/x", "\u0000\u001f\t\n\u007f", "é € 中 😀 \u2028",
            "</script>", "console=ttyS0 root=/dev/vda2 ro quiet", "x".repeat(5000)};

    final Random r = new Random(8);

    String text() {
        return TEXT[r.nextInt(TEXT.length)];
    }

    String maybe() {
        return r.nextInt(3) == 0 ? null : text();
    }

    <T> List<T> list(java.util.function.Supplier<T> f) {
        int n = switch (r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> 3;
            default -> 40;
        };
        List<T> l = new ArrayList<>();
        for (int i = 0; i < n; i++) l.add(f.get());
        return r.nextBoolean() ? l : List.copyOf(l);
    }

    Map<String, String> digests() {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < r.nextInt(4); i++) m.put(new String[]{"sha1", "sha256", "sha384"}[i], "ab".repeat(20 + i * 12));
        return m;
    }

    Map<String, Map<String, String>> pcrs() {
        Map<String, Map<String, String>> m = new LinkedHashMap<>();
        for (String bank : List.of("sha1", "sha256", "sha384").subList(0, r.nextInt(4))) {
            Map<String, String> b = new LinkedHashMap<>();
            for (int p : new int[]{4, 5, 9, 11, 12, 23}) if (r.nextBoolean()) b.put(Integer.toString(p), "0f".repeat(32));
            m.put(bank, b);
        }
        return m;
    }

    int anInt() {
        return new int[]{0, 1, -1, 4, Integer.MAX_VALUE, Integer.MIN_VALUE}[r.nextInt(6)];
    }

    long aLong() {
        return new long[]{0, 1, 0xffffffffL, Long.MAX_VALUE, Long.MIN_VALUE, 0x80000002L}[r.nextInt(6)];
    }

    @Test
    void journalLinesAreDatabinds() throws Exception {
        for (int i = 0; i < 400; i++) {
            Journal.FirmwareLogRef fw = r.nextBoolean() ? null : new Journal.FirmwareLogRef(maybe(), maybe(), aLong());
            compact(new Journal.Header(maybe(), maybe(), fw, maybe(), r.nextBoolean() ? null : pcrs(), maybe()));
            compact(new Journal.Line(r.nextBoolean() ? null : aLong(), maybe(), r.nextBoolean() ? null : anInt(),
                    r.nextBoolean() ? null : aLong(), r.nextBoolean() ? null : digests(), maybe(), maybe(), maybe()));
        }
        Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
        d.put(HashAlg.SHA1, new byte[20]);
        d.put(HashAlg.SHA256, new byte[32]);
        d.put(HashAlg.SHA384, new byte[48]);
        for (Measurement m : List.of(new Measurement(4, 0x80000003, d, new byte[]{1, 2, 3}),
                new Measurement(23, -1, Map.of(HashAlg.SHA256, new byte[32]), new byte[0]))) {
            compact(Journal.Line.intent(Long.MAX_VALUE, m));
            compact(Journal.Line.logged(1, m));
            compact(Journal.Line.intent(7, m).withCheck("00ff"));
        }
        compact(Journal.Line.done(3));
        compact(Journal.Line.failed(3, "TPM_RC_LOCALITY \"x\"\n"));
        compact(Journal.Line.finished());
    }

    @Test
    void manifestsAreDatabinds() throws Exception {
        JsonNode decision = Json.MAPPER.readTree("{\"policy\":\"p.yaml\",\"secrets\":[{\"name\":\"root\",\"verdict\":\"reachable\","
                + "\"n\":12345678901234567890,\"f\":1.5}],\"empty\":{},\"none\":null}");
        for (int i = 0; i < 300; i++) {
            Manifest.Payload payload = r.nextBoolean() ? null : new Manifest.Payload(maybe(), maybe());
            Manifest.Policy policy = r.nextBoolean() ? null : new Manifest.Policy(maybe(),
                    r.nextBoolean() ? null : new TreeSet<>(List.of(4, 5, 9, 11, 12)), new TreeSet<>(list(() -> r.nextInt(24))));
            Manifest m = new Manifest(maybe(), maybe(), payload, policy, r.nextBoolean() ? null : list(this::text), maybe(),
                    r.nextBoolean() ? null : new Manifest.FirmwareLog(maybe(), anInt()),
                    r.nextBoolean() ? null : list(() -> new Manifest.Divergent(maybe(), anInt(), maybe(), maybe(), maybe())),
                    r.nextBoolean() ? null : new Manifest.EventLogInfo(maybe(), maybe(), anInt(), anInt(), anInt()),
                    r.nextBoolean() ? null : pcrs(), r.nextBoolean() ? null : new Manifest.HandOffInfo(maybe(), anInt()),
                    r.nextBoolean() ? null : list(this::text),
                    r.nextBoolean() ? null : list(() -> new Manifest.Verdict(maybe(), maybe(), maybe(), maybe(), r.nextBoolean())),
                    r.nextBoolean() ? null : decision);
            pretty(m);
            compact(m);
        }
    }

    @Test
    void sideRecordsAndUncommittedManifestsAreDatabinds() throws Exception {
        for (int i = 0; i < 300; i++) {
            pretty(new SideRecord(maybe(), maybe(), r.nextInt(5) == 0 ? null
                    : list(() -> new SideRecord.Event(anInt(), maybe(), maybe(), r.nextBoolean() ? null : digests(), maybe()))));
            pretty(new UncommittedManifest(maybe(), maybe(), r.nextBoolean(), maybe(), maybe(),
                    r.nextBoolean() ? null : new Manifest.Payload(maybe(), maybe()),
                    r.nextBoolean() ? null : new Manifest.FirmwareLog(maybe(), anInt()), maybe(), anInt(),
                    r.nextBoolean() ? null : new UncommittedManifest.LogInfo(maybe(), maybe(), anInt()),
                    r.nextBoolean() ? null : list(this::text)));
        }
    }

    @Test
    void pendingBootsAreDatabinds() throws Exception {
        for (int i = 0; i < 200; i++) {
            PendingBoot.PolicyInfo policy = r.nextBoolean() ? null : new PendingBoot.PolicyInfo(maybe(),
                    r.nextBoolean() ? null : list(() -> r.nextInt(24)), list(() -> anInt()), r.nextBoolean() ? null : list(() -> 7));
            PendingBoot.BoundaryInfo b = r.nextBoolean() ? null : new PendingBoot.BoundaryInfo(maybe(), maybe(), maybe(), maybe(),
                    maybe(), r.nextBoolean() ? null : list(() -> 12), maybe());
            PendingBoot.HandOffInfo h = r.nextBoolean() ? null : new PendingBoot.HandOffInfo(maybe(), maybe(), maybe(), maybe(), maybe());
            pretty(new PendingBoot(maybe(), maybe(), maybe(), maybe(), maybe(), maybe(), maybe(), policy, maybe(), maybe(),
                    r.nextBoolean() ? null : list(this::text), r.nextBoolean() ? null : list(this::text), b,
                    r.nextBoolean() ? null : list(() -> new PendingBoot.RecordInfo(anInt(), aLong(), r.nextBoolean() ? null : digests(),
                            maybe(), maybe(), maybe())), maybe(), h, r.nextBoolean() ? null : new java.util.TreeMap<>(Map.of("a.json", "AA==")),
                    r.nextBoolean() ? null : list(this::text)));
        }
    }

    @Test
    void celJsonOfEveryFixtureLogIsDatabinds() throws Exception {
        int logs = 0;
        for (Path p : Fixtures.goodLogs()) {
            EventLog log = EventLogParser.parseLenient(Fixtures.read(p)).log();
            if (log == null) continue;
            byte[] oracle = Json.PRETTY.writeValueAsBytes(CelJson.records(log));
            assertArrayEquals(oracle, JsonOut.pretty(CelJson.writer(log)), p.getFileName().toString());
            logs++;
        }
        assertTrue(logs >= 10, "fixture logs compared: " + logs);
    }

    static void compact(Object v) throws Exception {
        assertArrayEquals(Json.MAPPER.writeValueAsBytes(v), JsonOut.compact(v), () -> String.valueOf(v));
    }

    static void pretty(Object v) throws Exception {
        assertArrayEquals(Json.PRETTY.writeValueAsBytes(v), JsonOut.pretty(v), () -> String.valueOf(v));
    }
}
