package org.kexecmeasured.eventlog;

/** Little-endian integer access on byte arrays (event logs are little-endian throughout). */
public final class Le {
    private Le() {
    }

    public static int u8(byte[] b, int p) {
        return b[p] & 0xff;
    }

    public static int u16(byte[] b, int p) {
        return (b[p] & 0xff) | (b[p + 1] & 0xff) << 8;
    }

    public static int i32(byte[] b, int p) {
        return (b[p] & 0xff) | (b[p + 1] & 0xff) << 8 | (b[p + 2] & 0xff) << 16 | (b[p + 3] & 0xff) << 24;
    }

    public static long u32(byte[] b, int p) {
        return i32(b, p) & 0xffffffffL;
    }

    public static long i64(byte[] b, int p) {
        return (i32(b, p) & 0xffffffffL) | ((long) i32(b, p + 4)) << 32;
    }

    public static void putInt(byte[] b, int p, int v) {
        b[p] = (byte) v;
        b[p + 1] = (byte) (v >>> 8);
        b[p + 2] = (byte) (v >>> 16);
        b[p + 3] = (byte) (v >>> 24);
    }

    public static void putShort(byte[] b, int p, int v) {
        b[p] = (byte) v;
        b[p + 1] = (byte) (v >>> 8);
    }
}
