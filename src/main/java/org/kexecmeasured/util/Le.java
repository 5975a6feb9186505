package org.kexecmeasured.util;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Little-endian access on byte arrays and byte buffers (PE/COFF, event logs and UEFI structures are
 * little-endian). The readers do not check bounds: callers check lengths first, with {@link #has}.
 * The buffer readers use absolute indexes (0 = the buffer's first byte) and ignore the buffer's
 * byte order and position, so a mapped file, a slice of it and a wrapped array read alike.
 */
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

    public static long u64(byte[] b, int p) {
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

    /** True when {@code len} bytes at {@code off} lie inside {@code b} (overflow-safe). */
    public static boolean has(byte[] b, int off, int len) {
        return off >= 0 && len >= 0 && (long) off + len <= b.length;
    }

    public static boolean startsWith(byte[] b, int off, byte[] magic) {
        if (!has(b, off, magic.length)) return false;
        for (int i = 0; i < magic.length; i++) if (b[off + i] != magic[i]) return false;
        return true;
    }

    /** NUL-terminated single-byte string at off, at most max bytes; null when off is outside. */
    public static String cString(byte[] b, int off, int max) {
        if (off < 0 || off >= b.length) return null;
        int end = off;
        while (end < b.length && end - off < max && b[end] != 0) end++;
        return new String(b, off, end - off, StandardCharsets.ISO_8859_1);
    }

    public static int u8(ByteBuffer b, int p) {
        return b.get(p) & 0xff;
    }

    public static int u16(ByteBuffer b, int p) {
        return (b.get(p) & 0xff) | (b.get(p + 1) & 0xff) << 8;
    }

    public static int i32(ByteBuffer b, int p) {
        return (b.get(p) & 0xff) | (b.get(p + 1) & 0xff) << 8 | (b.get(p + 2) & 0xff) << 16 | (b.get(p + 3) & 0xff) << 24;
    }

    public static long u32(ByteBuffer b, int p) {
        return i32(b, p) & 0xffffffffL;
    }

    public static long u64(ByteBuffer b, int p) {
        return (i32(b, p) & 0xffffffffL) | ((long) i32(b, p + 4)) << 32;
    }

    public static boolean startsWith(ByteBuffer b, int off, byte[] magic) {
        if (off < 0 || (long) off + magic.length > b.limit()) return false;
        for (int i = 0; i < magic.length; i++) if (b.get(off + i) != magic[i]) return false;
        return true;
    }

    /** Copy of {@code len} bytes at {@code off} (callers check the range). */
    public static byte[] copy(ByteBuffer b, int off, int len) {
        byte[] out = new byte[len];
        b.get(off, out, 0, len);
        return out;
    }

    /** NUL-terminated single-byte string at off, at most max bytes; null when off is outside. */
    public static String cString(ByteBuffer b, int off, int max) {
        if (off < 0 || off >= b.limit()) return null;
        int end = off;
        while (end < b.limit() && end - off < max && b.get(end) != 0) end++;
        return new String(copy(b, off, end - off), StandardCharsets.ISO_8859_1);
    }
}
