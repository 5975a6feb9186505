package org.kexecmeasured.util;

import java.util.HexFormat;

/** Lower-case hex, as tpm2-tools and systemd print digests. */
public final class Hex {
    private static final HexFormat HEX = HexFormat.of();

    private Hex() {
    }

    public static String of(byte[] b) {
        return HEX.formatHex(b);
    }

    public static String of(byte[] b, int off, int len) {
        return HEX.formatHex(b, off, off + len);
    }

    /** Parses hex (optionally "0x"-prefixed, whitespace ignored); BadInputException when malformed. */
    public static byte[] parse(String s) {
        String t = s.strip();
        if (t.startsWith("0x") || t.startsWith("0X")) t = t.substring(2);
        t = t.replaceAll("\\s", "");
        try {
            return HEX.parseHex(t);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("not a hex string: '" + abbreviate(s) + "'");
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }
}
