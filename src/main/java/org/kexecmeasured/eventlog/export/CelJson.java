package org.kexecmeasured.eventlog.export;

import com.fasterxml.jackson.core.JsonGenerator;
import org.kexecmeasured.eventlog.Digest;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventType;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.JsonOut;

import java.io.IOException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TCG Canonical Event Log, JSON encoding: one record per log record,
 * {@code {"recnum", "pcr", "digests": [{"hashAlg", "digest"}], "content_type": "pcclient_std",
 * "content": {"event_type", "event_data"}}} with hex digests and event data, as systemd-pcrlock
 * writes firmware records. recnum counts from 0 in log order (the Spec ID record included).
 *
 * <p>Two forms of the same records: {@link #records} (maps, for commands that combine them with other views) and
 * {@link #writer} (streamed straight to a generator, what a boot's sidecar writes without databind: {@link JsonOut});
 * their bytes are equal (tests compare them).
 */
public final class CelJson {
    private CelJson() {
    }

    /** The records, each built when it is read (see {@link JsonView#mapped}). */
    public static List<Object> records(EventLog log) {
        return JsonView.mapped(log.events(), CelJson::record);
    }

    /** The records as one JSON array, each written as it is reached (no map per record, no databind). */
    public static JsonOut.Writable writer(EventLog log) {
        return g -> {
            g.writeStartArray();
            for (Event e : log.events()) write(g, e);
            g.writeEndArray();
        };
    }

    /** {@link #record}'s members in its order. */
    private static void write(JsonGenerator g, Event e) throws IOException {
        g.writeStartObject();
        g.writeNumberField("recnum", e.index());
        g.writeNumberField("pcr", e.pcrIndex());
        g.writeArrayFieldStart("digests");
        for (Digest d : e.digestList()) {
            g.writeStartObject();
            g.writeStringField("hashAlg", d.algName());
            g.writeStringField("digest", Hex.of(d.value()));
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeStringField("content_type", "pcclient_std");
        g.writeObjectFieldStart("content");
        if (EventType.isKnown(e.eventType())) g.writeStringField("event_type", e.eventTypeName());
        else g.writeNumberField("event_type", e.eventType() & 0xffffffffL);
        g.writeStringField("event_data", Hex.of(e.data()));
        g.writeEndObject();
        g.writeEndObject();
    }

    public static Map<String, Object> record(Event e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("recnum", e.index());
        m.put("pcr", e.pcrIndex());
        m.put("digests", JsonView.digests(e));
        m.put("content_type", "pcclient_std");
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("event_type", EventType.isKnown(e.eventType()) ? e.eventTypeName() : (Object) (e.eventType() & 0xffffffffL));
        c.put("event_data", Hex.of(e.data()));
        m.put("content", c);
        return m;
    }
}
