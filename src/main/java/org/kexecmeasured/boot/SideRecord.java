package org.kexecmeasured.boot;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonGenerator;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.JsonOut;

import java.io.IOException;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code not-extended.json}, format {@value #FORMAT} (specified in {@code tcg2/sidecar.md}): the
 * measurements for PCRs outside the policy's extend set, kept for inspection; they are neither
 * extended nor in the replayable log.
 */
@JsonPropertyOrder({"format", "rule", "events"})
public record SideRecord(String format, String rule, List<Event> events) implements JsonOut.Writable {

    public static final String FORMAT = "kexec-measured-not-extended/1";
    static final String RULE = "events for PCRs outside the policy's extend set: neither extended nor in the replayable log";

    /**
     * @param eventType "0x…" (hex, lower case)
     * @param origin    payload, firmware, linux_stub
     * @param digests   bank → hex digest of every bank the run hashed
     * @param eventData base64 event data
     */
    @JsonPropertyOrder({"pcr", "eventType", "origin", "digests", "eventData"})
    public record Event(int pcr, String eventType, String origin, Map<String, String> digests, String eventData)
            implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            g.writeNumberField("pcr", pcr);
            JsonOut.field(g, "eventType", eventType);
            JsonOut.field(g, "origin", origin);
            JsonOut.field(g, "digests", digests);
            JsonOut.field(g, "eventData", eventData);
            g.writeEndObject();
        }
    }

    /** The members in {@code @JsonPropertyOrder} ({@link JsonOut}: written without databind). */
    @Override
    public void writeTo(JsonGenerator g) throws IOException {
        g.writeStartObject();
        JsonOut.field(g, "format", format);
        JsonOut.field(g, "rule", rule);
        JsonOut.field(g, "events", events);
        g.writeEndObject();
    }

    static SideRecord of(Plan plan) {
        return new SideRecord(FORMAT, RULE, plan.sideRecords().stream().map(SideRecord::event).toList());
    }

    private static Event event(PlannedRecord r) {
        Measurement m = r.measurement();
        Map<String, String> d = new LinkedHashMap<>();
        m.digests().forEach((a, v) -> d.put(a.tpmName, Hex.of(v)));
        return new Event(m.pcr(), String.format("0x%x", m.eventType()), r.origin().id(), d,
                Base64.getEncoder().encodeToString(m.eventData()));
    }
}
