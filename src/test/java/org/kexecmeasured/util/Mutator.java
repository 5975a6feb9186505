package org.kexecmeasured.util;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

/**
 * Seeded mutations of a valid input, the shapes hostile or damaged files take: bit flips, byte
 * overwrites, truncation, deletion, duplication and insertion of a run, 32-bit little-endian length
 * fields set to boundary values, and (for text formats) a token replaced by a hostile one. One
 * {@link Random} drives everything, so a failure is replayed from its seed and iteration.
 */
public final class Mutator {
    /** Boundary values a length or count field is set to. */
    static final long[] INTERESTING = {0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000,
            0x7fffffffL, 0x80000000L, 0xfffffffeL, 0xffffffffL};
    /** Tokens a JSON value or key is replaced by: wrong types, extremes, injection-shaped text. */
    static final String[] TOKENS = {"null", "-1", "0", "24", "4294967296", "9223372036854775808", "1e999", "\"\"",
            "\"zz\"", "[]", "{}", "true", "\"../../etc/passwd\"", "\"sha256\"", "\"sha1\"", "\"0000\"", "-0",
            "\"\\u0000\"", "\"DONE\"", "\"INTENT\"", "\"" + "a".repeat(300) + "\"", "\"2026-13-45T99:99:99Z\"", "\"@@@\""};

    private final Random rnd;

    public Mutator(long seed) {
        this.rnd = new Random(seed);
    }

    public Random random() {
        return rnd;
    }

    /** One to four binary mutations of {@code in}. */
    public byte[] binary(byte[] in) {
        byte[] b = in.clone();
        int n = 1 + rnd.nextInt(4);
        for (int i = 0; i < n; i++) b = once(b);
        return b;
    }

    /**
     * One to three mutations of a JSON or JSON-lines text: half the time a scalar value (number,
     * string, literal) is replaced by one of {@link #TOKENS} so the structure stays parseable and the
     * checks behind the parser are reached, otherwise a binary mutation.
     */
    public byte[] text(byte[] in) {
        byte[] b = in.clone();
        int n = 1 + rnd.nextInt(3);
        for (int i = 0; i < n; i++) b = rnd.nextBoolean() ? replaceToken(b) : once(b);
        return b;
    }

    private byte[] replaceToken(byte[] b) {
        String s = new String(b, StandardCharsets.UTF_8);
        // the start of a scalar: after ':' or '[' or ',' (whitespace skipped)
        int tries = 16;
        while (tries-- > 0 && !s.isEmpty()) {
            int at = rnd.nextInt(s.length());
            int colon = Math.max(s.lastIndexOf(':', at), Math.max(s.lastIndexOf(',', at), s.lastIndexOf('[', at)));
            if (colon < 0) continue;
            int start = colon + 1;
            while (start < s.length() && s.charAt(start) == ' ') start++;
            if (start >= s.length()) continue;
            int end = scalarEnd(s, start);
            if (end <= start) continue;
            String t = TOKENS[rnd.nextInt(TOKENS.length)];
            return (s.substring(0, start) + t + s.substring(end)).getBytes(StandardCharsets.UTF_8);
        }
        return once(b);
    }

    private static int scalarEnd(String s, int start) {
        char c = s.charAt(start);
        if (c == '{' || c == '[') return -1;
        if (c == '"') {
            for (int i = start + 1; i < s.length(); i++) {
                if (s.charAt(i) == '\\') i++;
                else if (s.charAt(i) == '"') return i + 1;
            }
            return -1;
        }
        int i = start;
        while (i < s.length() && ",}]\n ".indexOf(s.charAt(i)) < 0) i++;
        return i;
    }

    private byte[] once(byte[] b) {
        if (b.length == 0) return new byte[]{(byte) rnd.nextInt(256)};
        int at = rnd.nextInt(b.length);
        switch (rnd.nextInt(8)) {
            case 0 -> b[at] ^= (byte) (1 << rnd.nextInt(8));
            case 1 -> b[at] = (byte) rnd.nextInt(256);
            case 2 -> b = Arrays.copyOf(b, at);
            case 3 -> {
                int len = Math.min(b.length - at, 1 + rnd.nextInt(64));
                byte[] c = new byte[b.length - len];
                System.arraycopy(b, 0, c, 0, at);
                System.arraycopy(b, at + len, c, at, b.length - at - len);
                b = c;
            }
            case 4 -> {
                int len = Math.min(b.length - at, 1 + rnd.nextInt(64));
                byte[] c = new byte[b.length + len];
                System.arraycopy(b, 0, c, 0, at + len);
                System.arraycopy(b, at, c, at + len, b.length - at);
                b = c;
            }
            case 5 -> {
                byte[] ins = new byte[1 + rnd.nextInt(16)];
                rnd.nextBytes(ins);
                byte[] c = new byte[b.length + ins.length];
                System.arraycopy(b, 0, c, 0, at);
                System.arraycopy(ins, 0, c, at, ins.length);
                System.arraycopy(b, at, c, at + ins.length, b.length - at);
                b = c;
            }
            default -> {
                if (at + 4 <= b.length) {
                    long v = INTERESTING[rnd.nextInt(INTERESTING.length)];
                    for (int i = 0; i < 4; i++) b[at + i] = (byte) (v >>> (8 * i));
                } else {
                    b[at] ^= (byte) 0xff;
                }
            }
        }
        return b;
    }
}
