package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;
import org.kexecmeasured.util.Le;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a binary event log. Every size comes from the file itself and is checked against the bytes
 * that remain before anything is allocated, so hostile input ends in a {@link BadInputException}
 * naming the record number and byte offset, never in an OOM or a loop.
 *
 * <p>Format detection: the log is crypto-agile only when the first record is a TCG_PCR_EVENT for
 * PCR 0, type EV_NO_ACTION, whose data starts with "Spec ID Event03\0". Anything else (for
 * example a first record that is a bare StartupLocality EV_NO_ACTION) is read as a SHA-1 log.
 */
public final class EventLogParser {

    /** A parse that may have stopped early: the records read so far, and the error (null when complete). */
    public record Result(EventLog log, BadInputException error) {
        public boolean complete() {
            return error == null;
        }
    }

    static final int LEGACY_HEADER = 32;   // PCRIndex, EventType, SHA1 digest[20], EventSize
    static final byte[] SPEC_ID_SIG = (SpecIdEvent.SIGNATURE + "\0").getBytes(StandardCharsets.US_ASCII);

    private final byte[] b;
    /** Index after the last non-zero byte: from there on the file is zero padding. */
    private final int contentEnd;
    private int padding;
    private final List<Event> events = new ArrayList<>();
    private LogFormat format = LogFormat.SHA1_LEGACY;
    private SpecIdEvent specId;
    private int[] algIds = new int[0];
    private int[] algSizes = new int[0];

    private EventLogParser(byte[] b) {
        this.b = b;
        int e = b.length;
        while (e > 0 && b[e - 1] == 0) e--;
        this.contentEnd = e;
    }

    /** Parses the whole log; any defect throws. */
    public static EventLog parse(byte[] bytes) {
        Result r = parseLenient(bytes);
        if (r.error != null) throw r.error;
        return r.log;
    }

    /** Parses as far as possible; the error (if any) says where reading stopped. */
    public static Result parseLenient(byte[] bytes) {
        EventLogParser p = new EventLogParser(bytes);
        BadInputException err = null;
        try {
            p.run();
        } catch (BadInputException e) {
            err = e;
        }
        EventLog log = p.format == LogFormat.CRYPTO_AGILE && p.specId != null
                ? new EventLog(LogFormat.CRYPTO_AGILE, p.specId, p.events, p.padding)
                : new EventLog(LogFormat.SHA1_LEGACY, null, p.events, p.padding);
        return new Result(log, err);
    }

    /**
     * The bytes of a log file ("-" = standard input), through the capped reader with the event-log
     * limit; a device or pipe (securityfs included) is first checked with {@link #checkStart}, so a
     * zero-filled one is refused at record 0 instead of at the limit. Errors name the file.
     */
    public static byte[] readFile(Path file) {
        try (BoundedFiles.Input in = BoundedFiles.open(file, BoundedFiles.EVENTLOG)) {
            if (!in.hasKnownSize()) {
                try {
                    checkStart(in.head(FIRST_HEADER_CHECK));
                } catch (BadInputException e) {
                    throw new BadInputException(file + " (" + in.kind() + "): " + e.getMessage());
                }
            }
            return in.readAll();
        }
    }

    /** How many leading bytes {@link #checkStart} looks at: one TCG_PCR_EVENT header. */
    public static final int FIRST_HEADER_CHECK = LEGACY_HEADER;

    /**
     * Rejects input whose first record header is all zero bytes: PCR 0, EV_PREBOOT_CERT, a zero
     * digest and no data is no real record (see {@link #isPadding}), so such input is a zero-filled
     * file or device. Callers reading a stream check this on the first bytes before reading the rest.
     */
    public static void checkStart(byte[] head) {
        if (head.length < FIRST_HEADER_CHECK) return;
        for (int i = 0; i < FIRST_HEADER_CHECK; i++) {
            if (head[i] != 0) return;
        }
        throw new BadInputException("record 0 at byte offset 0 (0x0): the first " + FIRST_HEADER_CHECK
                + " bytes are all zero, which no record header is: zero-filled input, not an event log");
    }

    /** True when the bytes start like a crypto-agile log (see the class comment). */
    public static boolean looksCryptoAgile(byte[] b) {
        if (b.length < LEGACY_HEADER + SPEC_ID_SIG.length) return false;
        if (Le.i32(b, 0) != 0 || Le.i32(b, 4) != EventType.EV_NO_ACTION) return false;
        if (Le.u32(b, 28) < SPEC_ID_SIG.length) return false;
        for (int i = 0; i < SPEC_ID_SIG.length; i++) {
            if (b[LEGACY_HEADER + i] != SPEC_ID_SIG[i]) return false;
        }
        return true;
    }

    private void run() {
        if (b.length == 0) {
            throw new BadInputException("event log is empty (0 bytes)");
        }
        if (contentEnd == 0) {
            throw err(0, "the file holds only zero bytes (" + b.length + "), not an event log");
        }
        checkStart(b);
        int p = 0;
        if (looksCryptoAgile(b)) {
            p = readLegacy(0);
            Event first = events.get(0);
            try {
                specId = parseSpecId(first.dataNoCopy(), p);
            } catch (BadInputException e) {
                events.clear(); // a crypto-agile log without a valid header has no usable record
                throw e;
            }
            int over = specIdOverhang(first.dataNoCopy(), specId);
            if (over > 0) {
                // quirk: vendorInfo lies past EventSize (tpm2-tools' specid-vendordata fixture); the record owns it
                byte[] extra = new byte[over];
                System.arraycopy(b, p, extra, 0, over);
                events.set(0, new Event(0, 0, first.pcrIndex(), first.eventType(), first.digestList(),
                        first.dataNoCopy(), true, extra));
                p += over;
            }
            format = LogFormat.CRYPTO_AGILE;
            List<SpecIdEvent.Algorithm> algs = specId.algorithms();
            algIds = new int[algs.size()];
            algSizes = new int[algs.size()];
            for (int i = 0; i < algIds.length; i++) {
                algIds[i] = algs.get(i).algId();
                algSizes[i] = algs.get(i).digestSize();
            }
            while (p < b.length && !isPadding(p)) p = readAgile(p);
        } else {
            while (p < b.length && !isPadding(p)) p = readLegacy(p);
        }
        padding = b.length - p;
    }

    /**
     * Zero bytes up to the end of the file after at least one record: the unused rest of a log area
     * (logs copied from firmware memory). No real record is all zeros (PCR 0, EV_PREBOOT_CERT, zero
     * digests, empty data); the bytes are kept and reported as a finding. Fewer than 16 zero bytes
     * stay an error: they may be a record cut inside its PCR index or type.
     */
    private boolean isPadding(int p) {
        return p >= contentEnd && !events.isEmpty() && b.length - p >= MIN_PADDING;
    }

    static final int MIN_PADDING = 16;

    private BadInputException err(int off, String what) {
        return new BadInputException(String.format("record %d at byte offset %d (0x%x): %s",
                events.size(), off, off, what));
    }

    private int readLegacy(int off) {
        int left = b.length - off;
        if (left < LEGACY_HEADER) {
            throw err(off, "truncated TCG_PCR_EVENT header: " + left + " of 32 bytes present");
        }
        long pcr = Le.u32(b, off);
        int type = Le.i32(b, off + 4);
        byte[] sha1 = new byte[20];
        System.arraycopy(b, off + 8, sha1, 0, 20);
        long size = Le.u32(b, off + 28);
        int p = off + LEGACY_HEADER;
        if (size > b.length - p) {
            throw err(off, "event size " + size + " exceeds the " + (b.length - p) + " bytes left in the file");
        }
        byte[] data = new byte[(int) size];
        System.arraycopy(b, p, data, 0, data.length);
        events.add(new Event(events.size(), off, pcr, type, List.of(new Digest(0x0004, sha1)), data, true));
        return p + data.length;
    }

    private int readAgile(int off) {
        int left = b.length - off;
        if (left < 12) {
            throw err(off, "truncated TCG_PCR_EVENT2 header: " + left + " of at least 12 bytes present");
        }
        long pcr = Le.u32(b, off);
        int type = Le.i32(b, off + 4);
        long count = Le.u32(b, off + 8);
        int p = off + 12;
        // each TPMT_HA needs at least its 2-byte algorithm ID, and the record still needs EventSize
        if (count > (b.length - p) / 2) {
            throw err(off, "digest count " + count + " cannot fit in the " + (b.length - p) + " bytes left");
        }
        List<Digest> digests = new ArrayList<>((int) Math.min(count, 8));
        for (int i = 0; i < count; i++) {
            if (b.length - p < 2) throw err(off, "truncated digest list (digest " + i + " of " + count + ")");
            int alg = Le.u16(b, p);
            for (Digest prev : digests) {
                if (prev.algId() == alg) {
                    // two values for one bank: which one the firmware extended is unknowable, so reject
                    throw err(off, String.format("digest %d repeats algorithm 0x%04x (%s): a TCG_PCR_EVENT2 carries at most one digest per bank",
                            i, alg, new Digest(alg, new byte[0]).algName()));
                }
            }
            int size = sizeOf(alg);
            if (size < 0) {
                throw err(off, String.format("digest %d uses algorithm 0x%04x, which the Spec ID header does not list", i, alg));
            }
            p += 2;
            if (b.length - p < size) {
                throw err(off, String.format("truncated digest %d (algorithm 0x%04x): %d of %d bytes present",
                        i, alg, b.length - p, size));
            }
            byte[] d = new byte[size];
            System.arraycopy(b, p, d, 0, size);
            digests.add(new Digest(alg, d));
            p += size;
        }
        if (b.length - p < 4) throw err(off, "truncated record: EventSize missing");
        long size = Le.u32(b, p);
        p += 4;
        if (size > b.length - p) {
            throw err(off, "event size " + size + " exceeds the " + (b.length - p) + " bytes left in the file");
        }
        byte[] data = new byte[(int) size];
        System.arraycopy(b, p, data, 0, data.length);
        events.add(new Event(events.size(), off, pcr, type, digests, data, false));
        return p + data.length;
    }

    private int sizeOf(int alg) {
        for (int i = 0; i < algIds.length; i++) {
            if (algIds[i] == alg) return algSizes[i];
        }
        return -1;
    }

    /** Parses TCG_EfiSpecIDEvent from the first record's data. Trailing bytes after vendorInfo are kept in the raw data only. */
    private static int specIdOverhang(byte[] d, SpecIdEvent s) {
        return 28 + 4 * s.algorithms().size() + 1 + s.vendorInfo().length - d.length;
    }

    /**
     * {@code next}: file offset after the record. vendorInfo that runs past EventSize is taken from
     * the file when the bytes are there and nothing but those bytes follows would otherwise be lost.
     */
    private SpecIdEvent parseSpecId(byte[] d, int next) {
        if (d.length < 29) {
            throw new BadInputException(String.format("record 0 at byte offset 0 (0x0): Spec ID event has %d bytes, needs at least 29", d.length));
        }
        long platformClass = Le.u32(d, 16);
        int minor = d[20] & 0xff;
        int major = d[21] & 0xff;
        int errata = d[22] & 0xff;
        int uintn = d[23] & 0xff;
        long n = Le.u32(d, 24);
        if (n == 0 || n > (d.length - 29) / 4) {
            throw new BadInputException("record 0 at byte offset 0 (0x0): Spec ID numberOfAlgorithms " + n
                    + " does not fit its " + d.length + "-byte event");
        }
        List<SpecIdEvent.Algorithm> algs = new ArrayList<>();
        int p = 28;
        for (int i = 0; i < n; i++) {
            int id = Le.u16(d, p);
            int size = Le.u16(d, p + 2);
            org.kexecmeasured.util.HashAlg known = org.kexecmeasured.util.HashAlg.fromAlgId(id);
            if (known != null && known.size != size) {
                throw new BadInputException(String.format("record 0 at byte offset 0 (0x0): Spec ID lists %s with digest size %d, expected %d",
                        known.tpmName, size, known.size));
            }
            for (SpecIdEvent.Algorithm a : algs) {
                if (a.algId() == id) {
                    throw new BadInputException(String.format("record 0 at byte offset 0 (0x0): Spec ID lists algorithm 0x%04x twice", id));
                }
            }
            algs.add(new SpecIdEvent.Algorithm(id, size));
            p += 4;
        }
        int vlen = d[p] & 0xff;
        p++;
        byte[] vendor = new byte[vlen];
        if (vlen <= d.length - p) {
            System.arraycopy(d, p, vendor, 0, vlen);
        } else {
            int inEvent = d.length - p;
            int outside = vlen - inEvent;
            // Only when the whole rest of the file is exactly the missing vendorInfo: anything else is a real error.
            if (b.length - next != outside) {
                throw new BadInputException("record 0 at byte offset 0 (0x0): Spec ID vendorInfoSize " + vlen
                        + " exceeds the " + inEvent + " bytes left in the event");
            }
            System.arraycopy(d, p, vendor, 0, inEvent);
            System.arraycopy(b, next, vendor, inEvent, outside);
        }
        return new SpecIdEvent(platformClass, minor, major, errata, uintn, algs, vendor);
    }

    /** Bytes of the Spec ID event data beyond vendorInfo (0 for well-formed headers). */
    static int specIdTrailingBytes(SpecIdEvent s, int dataSize) {
        return dataSize - (28 + 4 * s.algorithms().size() + 1 + s.vendorInfo().length);
    }
}
