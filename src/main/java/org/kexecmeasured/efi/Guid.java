package org.kexecmeasured.efi;

import org.kexecmeasured.util.BadInputException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * An EFI_GUID: in memory Data1 (u32), Data2 (u16), Data3 (u16) little-endian, then Data4[8] as is;
 * as text the registry form 8-4-4-4-12.
 */
public record Guid(long msb, long lsb) {

    private static final Pattern TEXT = Pattern.compile(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    public static final Guid ZERO = new Guid(0, 0);

    /** Parses the 8-4-4-4-12 text form. */
    public static Guid parse(String s) {
        if (!TEXT.matcher(s).matches()) {
            throw new BadInputException("not a GUID: '" + s + "'");
        }
        String h = s.replace("-", "");
        return new Guid(Long.parseUnsignedLong(h.substring(0, 16), 16), Long.parseUnsignedLong(h.substring(16), 16));
    }

    /** Reads the 16-byte EFI in-memory form at {@code off}. */
    public static Guid read(byte[] b, int off) {
        if (off < 0 || off + 16 > b.length) {
            throw new BadInputException("GUID at offset " + off + " runs past the end of the data");
        }
        ByteBuffer bb = ByteBuffer.wrap(b, off, 16).order(ByteOrder.LITTLE_ENDIAN);
        long d1 = bb.getInt() & 0xffffffffL;
        long d2 = bb.getShort() & 0xffffL;
        long d3 = bb.getShort() & 0xffffL;
        long msb = (d1 << 32) | (d2 << 16) | d3;
        long lsb = ByteBuffer.wrap(b, off + 8, 8).order(ByteOrder.BIG_ENDIAN).getLong();
        return new Guid(msb, lsb);
    }

    /** The 16-byte EFI in-memory form. */
    public byte[] toBytes() {
        byte[] out = new byte[16];
        write(out, 0);
        return out;
    }

    public void write(byte[] out, int off) {
        ByteBuffer bb = ByteBuffer.wrap(out, off, 16).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt((int) (msb >>> 32));
        bb.putShort((short) (msb >>> 16));
        bb.putShort((short) msb);
        ByteBuffer.wrap(out, off + 8, 8).order(ByteOrder.BIG_ENDIAN).putLong(lsb);
    }

    /*
     * equals and hashCode written out: a record's generated ones bootstrap through java.lang.runtime.ObjectMethods
     * (method handles spun at the first call, ~20 classes that class-data sharing does not keep), and a GUID is
     * compared and hashed in the first moments of every command that decodes an event log (variable names).
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof Guid g && g.msb == msb && g.lsb == lsb;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(msb) * 31 + Long.hashCode(lsb);
    }

    @Override
    public String toString() {
        String h = String.format(Locale.ROOT, "%016x%016x", msb, lsb);
        return h.substring(0, 8) + "-" + h.substring(8, 12) + "-" + h.substring(12, 16) + "-"
                + h.substring(16, 20) + "-" + h.substring(20);
    }
}
