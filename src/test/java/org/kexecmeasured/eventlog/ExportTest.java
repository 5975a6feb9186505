package org.kexecmeasured.eventlog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.util.Hex;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CEL-JSON, the tpm2_eventlog-like YAML and --json, through the CLI. */
class ExportTest {
    private static final ObjectMapper M = new ObjectMapper();

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        assertEquals(0, rc, String.join(" ", args) + ": " + err);
        return out.toString();
    }

    @Test
    void celJsonCarriesEveryRecordExactly() throws Exception {
        for (Path p : Fixtures.goodLogs()) {
            EventLog log = EventLog.parse(Fixtures.read(p));
            JsonNode cel = M.readTree(run("eventlog", "show", "--format", "cel", p.toString()));
            assertTrue(cel.isArray());
            assertEquals(log.events().size(), cel.size(), p.toString());
            for (int i = 0; i < cel.size(); i++) {
                JsonNode r = cel.get(i);
                Event e = log.events().get(i);
                assertEquals(i, r.get("recnum").asInt());
                assertEquals(e.pcrIndex(), r.get("pcr").asLong());
                assertEquals("pcclient_std", r.get("content_type").asText());
                assertEquals(Hex.of(e.data()), r.get("content").get("event_data").asText());
                assertEquals(e.eventTypeName(), r.get("content").get("event_type").asText());
                JsonNode ds = r.get("digests");
                assertEquals(e.digestList().size(), ds.size());
                for (int k = 0; k < ds.size(); k++) {
                    assertEquals(e.digestList().get(k).algName(), ds.get(k).get("hashAlg").asText());
                    assertEquals(Hex.of(e.digestList().get(k).value()), ds.get(k).get("digest").asText());
                }
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void yamlViewParsesAndEndsWithTpm2EventlogsPcrsSection() {
        int same = 0;
        for (Path p : Fixtures.goodLogs()) {
            String ours = run("eventlog", "show", "--format", "yaml", p.toString());
            LoaderOptions lo = new LoaderOptions();
            lo.setCodePointLimit(64 * 1024 * 1024);
            Map<String, Object> doc = new Yaml(new SafeConstructor(lo)).load(ours);
            EventLog log = EventLog.parse(Fixtures.read(p));
            assertEquals(log.events().size(), ((List<Object>) doc.get("events")).size(), p.toString());
            Fixtures.Run tpm2 = Fixtures.tpm2Eventlog(p);
            String theirs = tpm2.exit() == 0 ? Fixtures.pcrsSection(tpm2.out()) : null;
            if (theirs == null || Replay.startupLocality(log) != 0) continue;
            assertEquals(theirs, Fixtures.pcrsSection(ours), p.toString());
            same++;
        }
        assertTrue(same >= 7, "identical pcrs sections: " + same);
    }

    @Test
    void textViewOfEveryLogHasOneLinePerRecordAndNoControlCharacters() {
        for (Path p : Fixtures.goodLogs()) {
            String text = run("eventlog", "show", p.toString());
            EventLog log = EventLog.parse(Fixtures.read(p));
            assertEquals(log.events().size(), text.lines().filter(l -> l.startsWith("#")).count(), p.toString());
            assertTrue(text.chars().noneMatch(c -> c < 0x20 && c != '\n'), p + " has raw control characters");
        }
    }

    @Test
    void jsonViewAndTextView() throws Exception {
        Path p = Fixtures.eventlogs().resolve("server-startuploc3-kernel-tags.bin");
        JsonNode j = M.readTree(run("eventlog", "show", "--json", p.toString()));
        assertEquals("crypto-agile", j.get("format").asText());
        assertTrue(j.get("complete").asBoolean());
        assertEquals(159, j.get("events").size());
        JsonNode tag = j.get("events").get(156);
        assertEquals("EV_EVENT_TAG", tag.get("eventTypeName").asText());
        assertEquals("tagged_event", tag.get("decoded").get("kind").asText());
        assertEquals("0x8f3b22ec", tag.get("decoded").get("TaggedEventID").asText());
        String text = run("eventlog", "show", p.toString());
        assertTrue(text.contains("tag 0x8f3b22ec (Linux initrd) \"Linux initrd\""), text);
        assertEquals(159, text.lines().filter(l -> l.startsWith("#")).count());
        JsonNode f = M.readTree(run("eventlog", "findings", "--json", p.toString()));
        assertTrue(f.isArray() && f.size() >= 2);
        assertEquals(Quirks.STARTUP_LOCALITY, f.get(0).get("id").asText());
        assertTrue(run("eventlog", "findings", p.toString()).contains("DIGEST_NOT_HASH_OF_DATA"));
    }

    @Test
    void logFromStandardInput() {
        Path p = Fixtures.eventlogs().resolve("lenovo-n40et41w-startuploc3.bin");
        java.io.InputStream saved = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream(Fixtures.read(p)));
            assertEquals(run("eventlog", "replay", p.toString()), run("eventlog", "replay", "-"));
        } finally {
            System.setIn(saved);
        }
    }

    @Test
    void synthWritesALogThatReplaysAndVerifies() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("synth");
        Path f = dir.resolve("s.bin");
        try {
            SyntheticLog.main(new String[]{"--events", "500", "-o", f.toString()});
            EventLog log = EventLog.parse(java.nio.file.Files.readAllBytes(f));
            assertEquals(501, log.events().size());
            assertEquals(3, log.banks().size());
            assertTrue(Quirks.find(log).stream().noneMatch(x -> x.id().equals(Quirks.DIGEST_NOT_HASH_OF_DATA)
                    || x.id().equals(Quirks.MALFORMED_EVENT_DATA)), Quirks.find(log).toString());
            // the independent reader agrees on the replay of the synthetic log too
            Map<String, byte[][]> indep = IndependentAgileReader.replay(java.nio.file.Files.readAllBytes(f), false);
            Replay.replay(log).forEach((bank, pcrs) -> {
                for (int i = 0; i < 24; i++) assertEquals(Hex.of(indep.get(bank.tpmName)[i]), Hex.of(pcrs[i]));
            });
        } finally {
            java.nio.file.Files.deleteIfExists(f);
            java.nio.file.Files.delete(dir);
        }
    }
}
