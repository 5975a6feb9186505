package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.util.Le;

import java.util.LinkedHashMap;
import java.util.Map;

/** EV_SEPARATOR: a 4-byte value, 0 normally, 0xFFFFFFFF on error, "WBCL" in Windows PCR 12–14. */
public record Separator(long value) implements DecodedEvent {
    public static final long WBCL = 0x4C434257L; // the bytes "WBCL" read little-endian

    public static DecodedEvent decode(byte[] d) {
        if (d.length != 4) return new Malformed("separator data has " + d.length + " bytes, expected 4", d);
        return new Separator(Le.u32(d, 0));
    }

    public String meaning() {
        if (value == 0) return "normal";
        if (value == 0xffffffffL) return "error";
        if (value == WBCL) return "WBCL";
        return "unusual";
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("Value", String.format("%08x", Integer.reverseBytes((int) value)));
        m.put("Meaning", meaning());
        return m;
    }

    @Override
    public String summary() {
        return String.format("%08x (%s)", Integer.reverseBytes((int) value), meaning());
    }
}
