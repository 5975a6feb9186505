package org.kexecmeasured.eventlog;

import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.util.HashAlg;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One record of the log, exactly as read: PCR index (u32; 0xFFFFFFFF kept as is), event type,
 * the digests in record order (unknown algorithm IDs included), the raw event data, and where
 * the record sat in the file. Immutable: {@link #data()} returns a copy.
 *
 * @param index       record number, 0 = the first record of the file
 * @param offset      byte offset of the record in the file (-1 for appended records not yet written)
 * @param legacy      true for a TCG_PCR_EVENT (SHA-1 only) record, false for TCG_PCR_EVENT2
 */
public final class Event {
    private final int index;
    private final long offset;
    private final long pcrIndex;
    private final int eventType;
    private final List<Digest> digests;
    private final byte[] data;
    private final boolean legacy;
    private final byte[] overhang;

    public Event(int index, long offset, long pcrIndex, int eventType, List<Digest> digests, byte[] data, boolean legacy) {
        this(index, offset, pcrIndex, eventType, digests, data, legacy, new byte[0]);
    }

    /**
     * {@code overhang}: bytes that follow the event data in the file and belong to this record although
     * EventSize does not count them (only the Spec ID vendorInfo quirk, see {@link Quirks}).
     */
    Event(int index, long offset, long pcrIndex, int eventType, List<Digest> digests, byte[] data, boolean legacy,
          byte[] overhang) {
        if (legacy && (digests.size() != 1 || digests.get(0).algId() != 0x0004 || digests.get(0).value().length != 20)) {
            throw new IllegalArgumentException("a TCG_PCR_EVENT record carries exactly one 20-byte SHA-1 digest");
        }
        this.overhang = overhang;
        this.index = index;
        this.offset = offset;
        this.pcrIndex = pcrIndex;
        this.eventType = eventType;
        this.digests = Collections.unmodifiableList(digests);
        this.data = data;
        this.legacy = legacy;
    }

    /** Record number in the log (0-based, the Spec ID record counts). */
    public int index() {
        return index;
    }

    /** Byte offset of the record in the parsed file. */
    public long offset() {
        return offset;
    }

    /** PCRIndex as an unsigned 32-bit value (0xFFFFFFFF for the Windows trailer). */
    public long pcrIndex() {
        return pcrIndex;
    }

    public int eventType() {
        return eventType;
    }

    public String eventTypeName() {
        return EventType.name(eventType);
    }

    /** Digests in record order (normally Spec ID order); unknown algorithm IDs included. */
    public List<Digest> digestList() {
        return digests;
    }

    /** Digests of the algorithms this tool knows, in record order. */
    public Map<HashAlg, byte[]> digests() {
        Map<HashAlg, byte[]> m = new LinkedHashMap<>();
        for (Digest d : digests) {
            HashAlg a = d.hashAlg();
            if (a != null && !m.containsKey(a)) m.put(a, d.value().clone());
        }
        return m;
    }

    /** The digest for one bank, or null when the record has none for it. */
    public byte[] digest(HashAlg alg) {
        for (Digest d : digests) {
            if (d.algId() == alg.algId) return d.value().clone();
        }
        return null;
    }

    /** Same as {@link #digest} without the copy, for the replay loop. */
    byte[] digestNoCopy(int algId) {
        for (int i = 0, n = digests.size(); i < n; i++) {
            Digest d = digests.get(i);
            if (d.algId() == algId) return d.value();
        }
        return null;
    }

    /** The event data bytes (a copy). */
    public byte[] data() {
        return data.clone();
    }

    public int dataSize() {
        return data.length;
    }

    /** The data without copying; package-internal (writer, decoders via {@link #decoded()}). */
    byte[] dataNoCopy() {
        return data;
    }

    /** Bytes after the event data that the record owns although EventSize leaves them out (normally 0). */
    public int overhangSize() {
        return overhang.length;
    }

    byte[] overhangNoCopy() {
        return overhang;
    }

    public boolean isLegacyRecord() {
        return legacy;
    }

    public boolean isNoAction() {
        return eventType == EventType.EV_NO_ACTION;
    }

    /** The typed view of the event data; never throws (a malformed view keeps the reason). */
    public DecodedEvent decoded() {
        return EventDecoder.decode(eventType, data);
    }

    @Override
    public String toString() {
        return "#" + index + " PCR " + pcrIndex + " " + eventTypeName() + " " + digests;
    }
}
