package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A parsed TCG event log: its format, the Spec ID header (crypto-agile logs only; it is also
 * {@code events().get(0)}), and every record in file order. Immutable; build new logs with
 * {@link Builder}.
 */
public final class EventLog {
    private final LogFormat format;
    private final SpecIdEvent specId;
    private final List<Event> events;
    private final int zeroPadding;

    public EventLog(LogFormat format, SpecIdEvent specId, List<Event> events) {
        this(format, specId, events, 0);
    }

    /** {@code zeroPadding}: zero bytes after the last record (kept for a byte-identical write). */
    public EventLog(LogFormat format, SpecIdEvent specId, List<Event> events, int zeroPadding) {
        if (format == LogFormat.CRYPTO_AGILE && specId == null) {
            throw new IllegalArgumentException("a crypto-agile log needs its Spec ID header");
        }
        this.format = format;
        this.specId = specId;
        this.events = Collections.unmodifiableList(new ArrayList<>(events));
        if (zeroPadding < 0) throw new IllegalArgumentException("negative padding");
        this.zeroPadding = zeroPadding;
    }

    /** Zero bytes that followed the last record in the file (0 for logs from securityfs). */
    public int zeroPadding() {
        return zeroPadding;
    }

    public LogFormat format() {
        return format;
    }

    /** The Spec ID header, or null for a SHA-1 format log. */
    public SpecIdEvent specId() {
        return specId;
    }

    /** All records, the Spec ID record included. */
    public List<Event> events() {
        return events;
    }

    /** The banks a replay can compute: the known algorithms of the Spec ID header, or SHA-1. */
    public List<HashAlg> banks() {
        return format == LogFormat.SHA1_LEGACY ? List.of(HashAlg.SHA1) : specId.knownBanks();
    }

    /** Serialised bytes; equal to the parsed input when nothing was appended. */
    public byte[] toBytes() {
        return EventLogWriter.write(this);
    }

    public static EventLog parse(byte[] bytes) {
        return EventLogParser.parse(bytes);
    }

    /** A builder that continues this log (records are appended after the existing ones). */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** A new crypto-agile log holding only its Spec ID record, for the given banks. */
    public static Builder newCryptoAgile(List<HashAlg> banks) {
        SpecIdEvent sid = SpecIdEvent.standard(banks);
        List<Digest> zero = List.of(new Digest(HashAlg.SHA1.algId, new byte[20]));
        Event first = new Event(0, 0, 0, EventType.EV_NO_ACTION, zero, sid.encode(), true);
        return new Builder(new EventLog(LogFormat.CRYPTO_AGILE, sid, List.of(first)));
    }

    /**
     * Appends records to a log (the TCG2 shim's side). Every appended record carries a digest for
     * every bank of the Spec ID header, in header order, as TCG_PCR_EVENT2.
     */
    public static final class Builder {
        private final LogFormat format;
        private final SpecIdEvent specId;
        private final List<Event> events;
        private long nextOffset;
        private final int basePadding;
        private final int baseCount;

        private Builder(EventLog base) {
            this.format = base.format;
            this.specId = base.specId;
            this.events = new ArrayList<>(base.events);
            // appended records replace any zero padding: they go right after the last record
            this.nextOffset = EventLogWriter.size(base) - base.zeroPadding;
            this.basePadding = base.zeroPadding;
            this.baseCount = base.events.size();
        }

        /**
         * Appends a record with precomputed digests. {@code digests} must hold exactly the banks of
         * the header (SHA-1 for a SHA-1 format log), each of the right size.
         */
        public Builder append(long pcr, int type, Map<HashAlg, byte[]> digests, byte[] data) {
            if (pcr < 0 || pcr > 0xffffffffL) throw new IllegalArgumentException("PCR index out of range: " + pcr);
            List<Digest> list = new ArrayList<>();
            if (format == LogFormat.SHA1_LEGACY) {
                byte[] d = digests.get(HashAlg.SHA1);
                if (d == null || digests.size() != 1) {
                    throw new BadInputException("a SHA-1 format log takes exactly a sha1 digest, got " + digests.keySet());
                }
                list.add(checked(HashAlg.SHA1.algId, d, 20));
            } else {
                for (SpecIdEvent.Algorithm a : specId.algorithms()) {
                    HashAlg h = a.hashAlg();
                    byte[] d = h == null ? null : digests.get(h);
                    if (d == null) {
                        throw new BadInputException("appended record lacks a digest for bank " + a.name()
                                + " of the log's Spec ID header");
                    }
                    list.add(checked(a.algId(), d, a.digestSize()));
                }
                if (digests.size() != list.size()) {
                    throw new BadInputException("appended record has digests for banks the log does not carry: "
                            + digests.keySet() + " vs " + specId.knownBanks());
                }
            }
            Event e = new Event(events.size(), nextOffset, pcr, type, list, data.clone(), format == LogFormat.SHA1_LEGACY);
            nextOffset += EventLogWriter.recordSize(e);
            events.add(e);
            return this;
        }

        /** Appends a record whose digest in every bank is H(digestInput) (what HashLogExtendEvent does). */
        public Builder appendMeasured(long pcr, int type, byte[] digestInput, byte[] data) {
            Map<HashAlg, byte[]> m = new java.util.LinkedHashMap<>();
            for (HashAlg a : banksForAppend()) m.put(a, a.digest(digestInput));
            return append(pcr, type, m, data);
        }

        private List<HashAlg> banksForAppend() {
            if (format == LogFormat.SHA1_LEGACY) return List.of(HashAlg.SHA1);
            List<HashAlg> l = specId.knownBanks();
            if (l.size() != specId.algorithms().size()) {
                throw new BadInputException("the log has a bank whose algorithm this tool cannot hash");
            }
            return l;
        }

        private static Digest checked(int algId, byte[] d, int size) {
            if (d.length != size) {
                throw new BadInputException("digest for algorithm 0x" + Integer.toHexString(algId) + " has "
                        + d.length + " bytes, the log expects " + size + ": " + Hex.of(d));
            }
            return new Digest(algId, d.clone());
        }

        public int size() {
            return events.size();
        }

        /** The record appended last (or the base log's last record). */
        public Event last() {
            if (events.isEmpty()) throw new IllegalStateException("empty log");
            return events.get(events.size() - 1);
        }

        public EventLog build() {
            return new EventLog(format, specId, events, events.size() == baseCount ? basePadding : 0);
        }
    }
}
