package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.Le;
import java.util.List;

/** Serialises records back to the binary format; a parsed log written back is byte-identical. */
public final class EventLogWriter {
    private EventLogWriter() {
    }

    public static byte[] write(EventLog log) {
        long total = size(log);
        if (total > Integer.MAX_VALUE - 16) throw new IllegalStateException("event log too large: " + total);
        byte[] out = new byte[(int) total];
        int p = 0;
        for (Event e : log.events()) p = writeRecord(e, out, p);
        return out;
    }

    public static long size(EventLog log) {
        long n = log.zeroPadding();
        for (Event e : log.events()) n += recordSize(e);
        return n;
    }

    /** Bytes of one record in its own layout (TCG_PCR_EVENT or TCG_PCR_EVENT2). */
    public static int recordSize(Event e) {
        if (e.isLegacyRecord()) return EventLogParser.LEGACY_HEADER + e.dataSize() + e.overhangSize();
        int n = 12 + 4 + e.dataSize();
        for (Digest d : e.digestList()) n += 2 + d.value().length;
        return n;
    }

    /** Writes one record at {@code p}; returns the offset after it. */
    public static int writeRecord(Event e, byte[] out, int p) {
        Le.putInt(out, p, (int) e.pcrIndex());
        Le.putInt(out, p + 4, e.eventType());
        byte[] data = e.dataNoCopy();
        if (e.isLegacyRecord()) {
            System.arraycopy(e.digestList().get(0).value(), 0, out, p + 8, 20);
            Le.putInt(out, p + 28, data.length);
            System.arraycopy(data, 0, out, p + 32, data.length);
            byte[] over = e.overhangNoCopy();
            System.arraycopy(over, 0, out, p + 32 + data.length, over.length);
            return p + 32 + data.length + over.length;
        }
        List<Digest> ds = e.digestList();
        Le.putInt(out, p + 8, ds.size());
        int q = p + 12;
        for (Digest d : ds) {
            Le.putShort(out, q, d.algId());
            System.arraycopy(d.value(), 0, out, q + 2, d.value().length);
            q += 2 + d.value().length;
        }
        Le.putInt(out, q, data.length);
        System.arraycopy(data, 0, out, q + 4, data.length);
        return q + 4 + data.length;
    }

    /** One record's bytes. */
    public static byte[] record(Event e) {
        byte[] out = new byte[recordSize(e)];
        writeRecord(e, out, 0);
        return out;
    }
}
