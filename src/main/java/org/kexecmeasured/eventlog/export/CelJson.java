package org.kexecmeasured.eventlog.export;

import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventType;
import org.kexecmeasured.util.Hex;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TCG Canonical Event Log, JSON encoding: one record per log record,
 * {@code {"recnum", "pcr", "digests": [{"hashAlg", "digest"}], "content_type": "pcclient_std",
 * "content": {"event_type", "event_data"}}} with hex digests and event data, as systemd-pcrlock
 * writes firmware records. recnum counts from 0 in log order (the Spec ID record included).
 */
public final class CelJson {
    private CelJson() {
    }

    /** The records, each built when it is read (see {@link JsonView#mapped}). */
    public static List<Object> records(EventLog log) {
        return JsonView.mapped(log.events(), CelJson::record);
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
