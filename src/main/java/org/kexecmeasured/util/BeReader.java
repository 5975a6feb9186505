package org.kexecmeasured.util;

import java.util.Arrays;

/**
 * A bounded big-endian cursor (TPM structures, LUKS2 binary headers). Every read checks the
 * remaining length first; a short input is a {@link BadInputException} naming the structure, the
 * field and the offset — never an index exception or an allocation of a length the input does not hold.
 */
public final class BeReader {
    private final byte[] b;
    private final int end;
    private final String what;
    private int pos;

    public BeReader(byte[] b, String what) {
        this(b, 0, b.length, what);
    }

    public BeReader(byte[] b, int off, int len, String what) {
        if (off < 0 || len < 0 || (long) off + len > b.length) throw new IllegalArgumentException("range outside the array");
        this.b = b;
        this.pos = off;
        this.end = off + len;
        this.what = what;
    }

    public int pos() {
        return pos;
    }

    public int remaining() {
        return end - pos;
    }

    public String what() {
        return what;
    }

    private void need(int n, String field) {
        if (n < 0 || n > end - pos) {
            throw new BadInputException(what + ": truncated at offset " + pos + " reading " + field + " (" + n
                    + " bytes needed, " + (end - pos) + " left)");
        }
    }

    public int u8(String field) {
        need(1, field);
        return b[pos++] & 0xFF;
    }

    public int u16(String field) {
        need(2, field);
        int v = ((b[pos] & 0xFF) << 8) | (b[pos + 1] & 0xFF);
        pos += 2;
        return v;
    }

    public int u32(String field) {
        need(4, field);
        int v = ((b[pos] & 0xFF) << 24) | ((b[pos + 1] & 0xFF) << 16) | ((b[pos + 2] & 0xFF) << 8) | (b[pos + 3] & 0xFF);
        pos += 4;
        return v;
    }

    public long u64(String field) {
        long hi = u32(field) & 0xFFFFFFFFL;
        return (hi << 32) | (u32(field) & 0xFFFFFFFFL);
    }

    public byte[] bytes(int n, String field) {
        need(n, field);
        byte[] o = Arrays.copyOfRange(b, pos, pos + n);
        pos += n;
        return o;
    }

    public void skip(int n, String field) {
        need(n, field);
        pos += n;
    }

    /** A TPM2B: u16 size, then that many bytes; {@code max} bounds the size the structure allows. */
    public byte[] sized(String field, int max) {
        int n = u16(field + " size");
        if (n > max) throw new BadInputException(what + ": " + field + " at offset " + (pos - 2) + " says " + n + " bytes, at most " + max + " allowed");
        return bytes(n, field);
    }

    /** Fails unless the whole input was consumed. */
    public void expectEnd() {
        if (pos != end) throw new BadInputException(what + ": " + (end - pos) + " unexpected trailing byte(s) at offset " + pos);
    }

    public BadInputException error(String message) {
        return new BadInputException(what + ": " + message + " (offset " + pos + ")");
    }
}
