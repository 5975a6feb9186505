package org.kexecmeasured.eventlog.export;

import org.kexecmeasured.eventlog.Digest;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Finding;
import org.kexecmeasured.eventlog.LogFormat;
import org.kexecmeasured.eventlog.SpecIdEvent;
import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Plain maps and lists for Jackson: the {@code --json} form of logs, replays and findings. */
public final class JsonView {
    private JsonView() {
    }

    public static Map<String, Object> log(EventLog log, String error) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", log.format() == LogFormat.SHA1_LEGACY ? "sha1" : "crypto-agile");
        if (log.specId() != null) m.put("specId", specId(log.specId()));
        m.put("events", mapped(log.events(), JsonView::event));
        m.put("complete", error == null);
        if (error != null) m.put("error", error);
        return m;
    }

    /**
     * {@code f} applied to each element when it is read: Jackson serialises one element at a time,
     * so the view of a large log never exists whole (a 32 MiB log's maps need about 1 GiB).
     */
    static <T> List<Object> mapped(List<T> source, java.util.function.Function<T, Object> f) {
        return new java.util.AbstractList<>() {
            @Override
            public Object get(int index) {
                return f.apply(source.get(index));
            }

            @Override
            public int size() {
                return source.size();
            }
        };
    }

    public static Map<String, Object> specId(SpecIdEvent s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("platformClass", s.platformClass());
        m.put("specVersionMajor", s.specVersionMajor());
        m.put("specVersionMinor", s.specVersionMinor());
        m.put("specErrata", s.specErrata());
        m.put("uintnSize", s.uintnSize());
        List<Object> algs = new ArrayList<>();
        for (SpecIdEvent.Algorithm a : s.algorithms()) {
            Map<String, Object> am = new LinkedHashMap<>();
            am.put("algorithmId", a.algId());
            am.put("name", a.name());
            am.put("digestSize", a.digestSize());
            algs.add(am);
        }
        m.put("algorithms", algs);
        m.put("vendorInfo", Hex.of(s.vendorInfo()));
        return m;
    }

    public static Map<String, Object> event(Event e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("recnum", e.index());
        m.put("offset", e.offset());
        m.put("pcr", e.pcrIndex());
        m.put("eventType", e.eventType() & 0xffffffffL);
        m.put("eventTypeName", e.eventTypeName());
        m.put("digests", digests(e));
        m.put("eventSize", e.dataSize());
        m.put("eventData", Hex.of(e.data()));
        DecodedEvent d = e.decoded();
        Map<String, Object> dm = new LinkedHashMap<>();
        dm.put("kind", kind(d));
        dm.putAll(d.fields());
        dm.put("summary", d.summary());
        m.put("decoded", dm);
        return m;
    }

    static String kind(DecodedEvent d) {
        String n = d.getClass().getSimpleName();
        return switch (n) {
            case "EfiVariable" -> "efi_variable";
            case "ImageLoad" -> "image_load";
            case "TextEvent" -> "text";
            case "Separator" -> "separator";
            case "TaggedEvent" -> "tagged_event";
            case "GptEvent" -> "gpt";
            case "FirmwareBlob" -> "firmware_blob";
            case "NoActionEvent" -> "no_action";
            case "HandoffTables" -> "handoff_tables";
            case "Malformed" -> "malformed";
            default -> "raw";
        };
    }

    public static List<Object> digests(Event e) {
        List<Object> l = new ArrayList<>();
        for (Digest d : e.digestList()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("hashAlg", d.algName());
            dm.put("digest", Hex.of(d.value()));
            l.add(dm);
        }
        return l;
    }

    /** {"sha256": {"0": "hex", …}, …} — the same shape {@code verify --pcrs} reads. */
    public static Map<String, Object> replay(Map<HashAlg, byte[][]> replay, BitSet only) {
        Map<String, Object> m = new LinkedHashMap<>();
        replay.forEach((bank, pcrs) -> {
            Map<String, Object> pm = new LinkedHashMap<>();
            for (int i = 0; i < pcrs.length; i++) {
                if (only == null || only.get(i)) pm.put(Integer.toString(i), Hex.of(pcrs[i]));
            }
            m.put(bank.tpmName, pm);
        });
        return m;
    }

    public static List<Object> findings(List<Finding> findings) {
        List<Object> l = new ArrayList<>();
        for (Finding f : findings) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", f.id());
            m.put("severity", f.severity().name().toLowerCase());
            m.put("message", f.message());
            m.put("records", f.records());
            l.add(m);
        }
        return l;
    }
}
