package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.Hex;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * EV_EVENT_TAG: TCG_PCClientTaggedEvent {u32 taggedEventID, u32 taggedEventDataSize, data}. The
 * record's digest covers the caller's buffer (initrd, LoadOptions, addon), not this structure.
 */
public record TaggedEvent(long taggedEventId, String tagName, byte[] taggedEventData, String text,
                          int trailingBytes) implements DecodedEvent {

    public static final long LINUX_INITRD = 0x8F3B22ECL;
    public static final long LINUX_LOAD_OPTIONS = 0x8F3B22EDL;
    /** kexec-measured's boundary record (tcg2/kexec-boundary-event.md): digest = H(taggedEventData). */
    public static final long KEXEC_BOUNDARY = 0x4B584D42L;

    /** Tags with a known meaning: Linux EFI stub and systemd (measurements.md §6–7). */
    public static String tagName(long id) {
        if (id == LINUX_INITRD) return "Linux initrd";
        if (id == LINUX_LOAD_OPTIONS) return "LOADED_IMAGE::LoadOptions";
        if (id == KEXEC_BOUNDARY) return "kexec-measured boundary";
        if (id == 0x13aed6dbL) return "systemd UKI profile";
        if (id == 0x6c46f751L) return "systemd devicetree addon";
        if (id == 0xf5bc582aL) return "systemd-boot loader.conf";
        if (id == 0xd5cb7cbcL) return "systemd SMBIOS type 1";
        if (id == 0xe0d47bc8L) return "systemd SMBIOS type 2";
        if (id == 0xc0b3bd23L) return "systemd SMBIOS type 11";
        if (id == 0xdac08e1aL) return "systemd ucode addon";
        if (id == 0x49dffe0fL) return "systemd initrd addon";
        return null;
    }

    public static DecodedEvent decode(byte[] d) {
        if (d.length < 8) return new Malformed("tagged event needs 8 bytes, has " + d.length, d);
        long id = Le.u32(d, 0);
        long size = Le.u32(d, 4);
        if (size > d.length - 8) {
            return new Malformed("taggedEventDataSize " + size + " exceeds the " + (d.length - 8) + " bytes left", d);
        }
        byte[] data = new byte[(int) size];
        System.arraycopy(d, 8, data, 0, data.length);
        TextEvent t = data.length == 0 ? null : TextEvent.of(data);
        return new TaggedEvent(id, tagName(id), data, t == null ? null : t.text(), d.length - 8 - (int) size);
    }

    @Override
    public byte[] taggedEventData() {
        return taggedEventData.clone();
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("TaggedEventID", String.format("0x%08x", taggedEventId));
        if (tagName != null) m.put("TagName", tagName);
        m.put("TaggedEventDataSize", taggedEventData.length);
        if (text != null) m.put("String", text);
        else m.put("TaggedEventData", Hex.of(taggedEventData));
        if (trailingBytes > 0) m.put("TrailingBytes", trailingBytes);
        return m;
    }

    @Override
    public String summary() {
        String s = String.format("tag 0x%08x", taggedEventId) + (tagName != null ? " (" + tagName + ")" : "");
        return s + (text != null ? " \"" + Text.escape(text) + "\"" : " " + Text.hexPreview(taggedEventData));
    }
}
