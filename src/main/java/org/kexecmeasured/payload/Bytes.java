package org.kexecmeasured.payload;

import java.nio.charset.StandardCharsets;

/** Little-endian reads with explicit bounds; callers check lengths first. */
public final class Bytes {
    private Bytes() {
    }

    public static int u8(byte[] b, int off) {
        return b[off] & 0xff;
    }

    public static int u16(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8;
    }

    public static long u32(byte[] b, int off) {
        return (b[off] & 0xffL) | (b[off + 1] & 0xffL) << 8 | (b[off + 2] & 0xffL) << 16 | (b[off + 3] & 0xffL) << 24;
    }

    public static long u64(byte[] b, int off) {
        return u32(b, off) | u32(b, off + 4) << 32;
    }

    public static boolean has(byte[] b, int off, int len) {
        return off >= 0 && len >= 0 && (long) off + len <= b.length;
    }

    public static boolean startsWith(byte[] b, int off, byte[] magic) {
        if (!has(b, off, magic.length)) return false;
        for (int i = 0; i < magic.length; i++) if (b[off + i] != magic[i]) return false;
        return true;
    }

    /** NUL-terminated ASCII string at off, at most max bytes; null when off is outside. */
    public static String cString(byte[] b, int off, int max) {
        if (off < 0 || off >= b.length) return null;
        int end = off;
        while (end < b.length && end - off < max && b[end] != 0) end++;
        return new String(b, off, end - off, StandardCharsets.ISO_8859_1);
    }

    /** Name of a compression format recognised by its magic at off, or null. */
    public static String compression(byte[] b, int off) {
        if (startsWith(b, off, new byte[]{0x1f, (byte) 0x8b})) return "gzip";
        if (startsWith(b, off, new byte[]{(byte) 0xfd, '7', 'z', 'X', 'Z', 0})) return "xz";
        if (startsWith(b, off, new byte[]{0x28, (byte) 0xb5, 0x2f, (byte) 0xfd})) return "zstd";
        if (startsWith(b, off, new byte[]{0x02, 0x21, 0x4c, 0x18})) return "lz4";
        if (startsWith(b, off, new byte[]{'B', 'Z', 'h'})) return "bzip2";
        if (startsWith(b, off, new byte[]{(byte) 0x89, 'L', 'Z', 'O'})) return "lzo";
        if (startsWith(b, off, new byte[]{0x5d, 0, 0})) return "lzma";
        if (startsWith(b, off, new byte[]{0x7f, 'E', 'L', 'F'})) return "none (ELF)";
        return null;
    }
}
