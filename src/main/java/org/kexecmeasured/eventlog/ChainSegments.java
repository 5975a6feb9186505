package org.kexecmeasured.eventlog;

import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.decode.TaggedEvent;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who wrote each record of a (continued) event log, by the conventions of
 * {@code tcg2/kexec-boundary-event.md}: the firmware, the operating system it started (records after
 * the firmware's "Exit Boot Services Returned with Success", or past the firmware log's length when a
 * manifest gives it), and for each kexec boundary the generation it starts — the boundary records
 * (tag 0x4B584D42, one per boundary PCR, all with the same data) and the records of the payload
 * after them, then again that system's own records after its ExitBootServices.
 *
 * <p>Generations count boots: the firmware's boot is generation 1, the first kexec boundary starts
 * generation 2 (as the hand-over's end-to-end tests name them). Pure: no TPM, no files.
 */
public final class ChainSegments {

    /** Who extended a record. */
    public enum Phase {
        /** the platform firmware and the boot chain it ran (generation 1, before ExitBootServices) */
        FIRMWARE,
        /** a running OS after ExitBootServices (IMA, systemd phases …), before the next boundary */
        OS,
        /** a kexec boundary record */
        BOUNDARY,
        /** the payload kexec-measured ran after a boundary (emulated boot chain) */
        PAYLOAD
    }

    /**
     * One kexec boundary: the generation it starts, its taggedEventData (the same in every boundary
     * PCR) parsed into its {@code key=value} lines, and the records that carry it.
     */
    public record Boundary(int generation, String text, Map<String, String> fields, List<Event> records) {
        public Boundary {
            fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
            records = List.copyOf(records);
        }

        public String nonce() {
            return fields.get("nonce");
        }

        public String payloadDigest() {
            return fields.get("payload");
        }
    }

    /** The phase and generation of one record. */
    public record Place(Phase phase, int generation) {
    }

    private final List<Place> places;
    private final List<Boundary> boundaries;

    private ChainSegments(List<Place> places, List<Boundary> boundaries) {
        this.places = places;
        this.boundaries = boundaries;
    }

    /** Splits a log; {@code firmwareRecords} (from a manifest) or -1 to find the end of firmware by ExitBootServices. */
    public static ChainSegments of(EventLog log, int firmwareRecords) {
        List<Event> events = log.events();
        Map<String, List<Event>> byData = new LinkedHashMap<>();
        for (Event e : events) {
            String t = boundaryText(e);
            if (t != null) byData.computeIfAbsent(t, k -> new ArrayList<>()).add(e);
        }
        List<Boundary> boundaries = new ArrayList<>();
        Map<Integer, Boundary> boundaryOfRecord = new LinkedHashMap<>();
        for (Map.Entry<String, List<Event>> b : byData.entrySet()) {
            Boundary bd = new Boundary(boundaries.size() + 2, b.getKey(), fields(b.getKey()), b.getValue());
            boundaries.add(bd);
            for (Event e : b.getValue()) boundaryOfRecord.put(e.index(), bd);
        }
        List<Place> places = new ArrayList<>(events.size());
        int generation = 1;
        boolean afterEbs = false;
        for (int i = 0; i < events.size(); i++) {
            Event e = events.get(i);
            Boundary bd = boundaryOfRecord.get(e.index());
            if (bd != null) {
                // a later generation starts at its first boundary record; its other records keep the same generation
                if (bd.generation() > generation) {
                    generation = bd.generation();
                    afterEbs = false;
                }
                places.add(new Place(Phase.BOUNDARY, bd.generation()));
                continue;
            }
            boolean os = afterEbs || (generation == 1 && firmwareRecords >= 0 && i >= firmwareRecords);
            places.add(new Place(os ? Phase.OS : generation == 1 ? Phase.FIRMWARE : Phase.PAYLOAD, generation));
            if (isEbsSuccess(e)) afterEbs = true;
        }
        return new ChainSegments(List.copyOf(places), List.copyOf(boundaries));
    }

    /** The place of the record at this position of {@link EventLog#events()}. */
    public Place place(int position) {
        return places.get(position);
    }

    /** The boundaries in the order their first record appears; generation 2, 3, … */
    public List<Boundary> boundaries() {
        return boundaries;
    }

    /** The generation the log's last records belong to: 1 + the number of kexec boundaries. */
    public int lastGeneration() {
        return boundaries.size() + 1;
    }

    /** The boundary's taggedEventData when the record is a kexec boundary record, else null. */
    public static String boundaryText(Event e) {
        if (e.eventType() != EventType.EV_EVENT_TAG) return null;
        DecodedEvent d = e.decoded();
        if (d instanceof TaggedEvent t && t.taggedEventId() == TaggedEvent.KEXEC_BOUNDARY) {
            return new String(t.taggedEventData(), StandardCharsets.UTF_8);
        }
        return null;
    }

    private static Map<String, String> fields(String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) m.putIfAbsent(line.substring(0, eq), line.substring(eq + 1));
        }
        return m;
    }

    private static boolean isEbsSuccess(Event e) {
        return e.eventType() == EventType.EV_EFI_ACTION && e.pcrIndex() == Pcr.BOOT_LOADER_CONFIG
                && Quirks.EBS_SUCCESS.equals(new String(e.dataNoCopy(), StandardCharsets.ISO_8859_1));
    }
}
