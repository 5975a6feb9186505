package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.decode.EfiVariable;
import org.kexecmeasured.eventlog.decode.FirmwareBlob;
import org.kexecmeasured.eventlog.decode.ImageLoad;
import org.kexecmeasured.eventlog.decode.TextEvent;
import org.kexecmeasured.util.Hex;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.math.BigInteger;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Record fields and decoded event data against tpm2_eventlog's YAML, event by event, for every
 * crypto-agile log (tpm2_eventlog 5.4 prints SHA-1 format logs as YAML that does not parse).
 */
class DecoderOracleTest {

    private static long num(Object o) {
        if (o instanceof BigInteger b) return b.longValue();
        return ((Number) o).longValue();
    }

    @Test
    @SuppressWarnings("unchecked")
    void recordsAndDecodedFieldsMatchTpm2Eventlog() {
        int logs = 0;
        int vars = 0;
        int images = 0;
        int blobs = 0;
        int texts = 0;
        for (Path p : Fixtures.goodLogs()) {
            EventLog log = EventLog.parse(Fixtures.read(p));
            if (log.format() != LogFormat.CRYPTO_AGILE) continue;
            Fixtures.Run run = Fixtures.tpm2Eventlog(p);
            assertEquals(0, run.exit(), p + ": " + run.err());
            LoaderOptions lo = new LoaderOptions();
            lo.setCodePointLimit(64 * 1024 * 1024);
            Map<String, Object> doc = new Yaml(new SafeConstructor(lo)).load(run.out());
            List<Map<String, Object>> events = (List<Map<String, Object>>) doc.get("events");
            String name = p.getFileName().toString();
            assertEquals(log.events().size(), events.size(), name);
            for (int i = 1; i < events.size(); i++) {
                Map<String, Object> t = events.get(i);
                Event e = log.events().get(i);
                String where = name + " record " + i;
                assertEquals(num(t.get("PCRIndex")), e.pcrIndex(), where);
                if (EventType.isKnown(e.eventType())) assertEquals(t.get("EventType"), e.eventTypeName(), where);
                assertEquals(num(t.get("EventSize")), e.dataSize(), where);
                List<Map<String, Object>> ds = (List<Map<String, Object>>) t.get("Digests");
                assertEquals(ds.size(), e.digestList().size(), where);
                for (int k = 0; k < ds.size(); k++) {
                    assertEquals(ds.get(k).get("AlgorithmId"), e.digestList().get(k).algName(), where);
                    assertEquals(ds.get(k).get("Digest"), Hex.of(e.digestList().get(k).value()), where);
                }
                Object ev = t.get("Event");
                DecodedEvent d = e.decoded();
                if (ev instanceof Map<?, ?> m && m.containsKey("VariableName")) {
                    EfiVariable v = assertInstanceOf(EfiVariable.class, d, where);
                    assertEquals(m.get("VariableName"), v.variableName().toString(), where);
                    assertEquals(String.valueOf(m.get("UnicodeName")), v.unicodeName(), where);
                    assertEquals(num(m.get("UnicodeNameLength")), v.unicodeNameLength(), where);
                    assertEquals(num(m.get("VariableDataLength")), v.variableDataLength(), where);
                    vars++;
                } else if (ev instanceof Map<?, ?> m && m.containsKey("BlobBase") && e.eventType() == EventType.EV_EFI_PLATFORM_FIRMWARE_BLOB) {
                    FirmwareBlob f = assertInstanceOf(FirmwareBlob.class, d, where);
                    assertEquals(num(m.get("BlobBase")), f.blobBase(), where);
                    assertEquals(num(m.get("BlobLength")), f.blobLength(), where);
                    blobs++;
                } else if (ev instanceof Map<?, ?> m && m.containsKey("DevicePath")) {
                    ImageLoad il = assertInstanceOf(ImageLoad.class, d, where);
                    assertEquals(num(m.get("ImageLengthInMemory")), il.imageLengthInMemory(), where);
                    assertEquals(num(m.get("ImageLocationInMemory")), il.imageLocationInMemory(), where);
                    assertEquals(num(m.get("LengthOfDevicePath")), il.lengthOfDevicePath(), where);
                    assertEquals(m.get("DevicePath"), Hex.of(il.devicePathBytes()), where);
                    assertTrue(il.devicePath() != null, where + ": device path text");
                    images++;
                } else if (ev instanceof Map<?, ?> m && m.containsKey("String") && d instanceof TextEvent te
                        && te.text().indexOf('\n') < 0) {
                    // (multi-line strings: tpm2_eventlog re-quotes every line, not comparable)
                    // tpm2_eventlog prints the raw bytes in quotes with NUL as \0 (UTF-16 shows every high byte)
                    String s = String.valueOf(m.get("String")).strip();
                    s = s.substring(1, s.length() - 1).replace("\\0", "");
                    assertEquals(s, te.text(), where);
                    texts++;
                } else if (e.eventType() == EventType.EV_EFI_ACTION) {
                    assertEquals(String.valueOf(ev), assertInstanceOf(TextEvent.class, d, where).text(), where);
                    texts++;
                }
            }
            logs++;
        }
        assertEquals(6, logs);
        assertTrue(vars > 60 && images > 40 && blobs > 10 && texts > 50,
                "vars " + vars + " images " + images + " blobs " + blobs + " texts " + texts);
    }
}
