package org.kexecmeasured.eventlog.decode;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Events whose data is a string: EV_EFI_ACTION / EV_ACTION (ASCII, no NUL), EV_IPL (GRUB and shim:
 * ASCII with NUL; systemd: UTF-16LE with NUL), EV_S_CRTM_VERSION (usually UTF-16), EV_POST_CODE,
 * EV_COMPACT_HASH and similar.
 *
 * @param encoding "ascii" or "utf-16le"
 * @param nulTerminated whether the data ends with a NUL character of that encoding
 */
public record TextEvent(String text, String encoding, boolean nulTerminated) implements DecodedEvent {

    /** Decodes as UTF-16LE when it looks like it, else as ASCII; null when neither. */
    public static TextEvent of(byte[] d) {
        if (Text.isUtf16(d)) {
            boolean nul = d.length >= 2 && d[d.length - 1] == 0 && d[d.length - 2] == 0;
            return new TextEvent(Text.utf16(d, 0, d.length), "utf-16le", nul);
        }
        if (Text.isAscii(d)) {
            return new TextEvent(Text.ascii(d, 0, d.length), "ascii", d[d.length - 1] == 0);
        }
        return null;
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("String", text);
        m.put("Encoding", encoding);
        m.put("NulTerminated", nulTerminated);
        return m;
    }

    @Override
    public String summary() {
        return "\"" + Text.escape(text) + "\"" + (encoding.equals("ascii") ? "" : " (UTF-16)");
    }
}
