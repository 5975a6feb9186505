package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;

/** Small helpers for rendering event data safely (no control characters reach a terminal). */
public final class Text {
    private Text() {
    }

    /** Hex of at most 32 bytes, with the total size when longer. */
    public static String hexPreview(byte[] d) {
        if (d.length == 0) return "(empty)";
        if (d.length <= 32) return Hex.of(d);
        return Hex.of(d, 0, 32) + "… (" + d.length + " bytes)";
    }

    /** Whether the bytes are printable ASCII, optionally followed by NUL bytes. */
    public static boolean isAscii(byte[] d) {
        int n = d.length;
        while (n > 0 && d[n - 1] == 0) n--;
        if (n == 0) return false;
        for (int i = 0; i < n; i++) {
            int c = d[i] & 0xff;
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c > 0x7e) return false;
        }
        return true;
    }

    /** Heuristic for UTF-16LE text: even length, the high byte of the first char zero, mostly printable. */
    public static boolean isUtf16(byte[] d) {
        if (d.length < 2 || (d.length & 1) != 0 || d[1] != 0 || d[0] == 0) return false;
        int printable = 0;
        int chars = 0;
        for (int i = 0; i + 1 < d.length; i += 2) {
            int c = (d[i] & 0xff) | (d[i + 1] & 0xff) << 8;
            if (c == 0) break;
            chars++;
            if (c >= 0x20 && c != 0x7f && (c < 0xd800 || c > 0xdfff)) printable++;
        }
        return chars > 0 && printable == chars;
    }

    /** ASCII up to the first NUL. */
    public static String ascii(byte[] d, int off, int len) {
        int end = off;
        while (end < off + len && d[end] != 0) end++;
        return new String(d, off, end - off, StandardCharsets.ISO_8859_1);
    }

    /** UTF-16LE up to the first NUL char. */
    public static String utf16(byte[] d, int off, int len) {
        String s = new String(d, off, len & ~1, StandardCharsets.UTF_16LE);
        int z = s.indexOf('\0');
        return z >= 0 ? s.substring(0, z) : s;
    }

    /** Escapes control characters and non-ASCII so the string is safe on one terminal line. */
    public static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\n') sb.append("\\n");
            else if (c == '\r') sb.append("\\r");
            else if (c == '\t') sb.append("\\t");
            else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) sb.append(String.format("\\x%02x", (int) c));
            else sb.append(c);
        }
        return sb.toString();
    }
}
