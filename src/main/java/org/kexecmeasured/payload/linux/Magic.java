package org.kexecmeasured.payload.linux;

import static org.kexecmeasured.util.Le.startsWith;

/** Recognises the compression of a Linux payload (bzImage, zboot, Image.gz) by its magic bytes. */
public final class Magic {
    private Magic() {
    }

    /** Name of a compression format recognised by its magic at off, or null. */
    public static String compression(byte[] b, int off) {
        return compression(java.nio.ByteBuffer.wrap(b), off);
    }

    /** The same on a buffer (absolute index {@code off}). */
    public static String compression(java.nio.ByteBuffer b, int off) {
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
