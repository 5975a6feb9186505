package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.util.Le;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * UEFI_PLATFORM_FIRMWARE_BLOB {u64 BlobBase, u64 BlobLength} and UEFI_PLATFORM_FIRMWARE_BLOB2
 * {u8 BlobDescriptionSize, description, u64 BlobBase, u64 BlobLength}; also the 16-byte form some
 * firmware uses for EV_S_CRTM_CONTENTS and EV_POST_CODE.
 */
public record FirmwareBlob(String description, long blobBase, long blobLength) implements DecodedEvent {

    public static DecodedEvent decode(byte[] d) {
        if (d.length != 16) return new Malformed("firmware blob data has " + d.length + " bytes, expected 16", d);
        return new FirmwareBlob(null, Le.u64(d, 0), Le.u64(d, 8));
    }

    public static DecodedEvent decode2(byte[] d) {
        if (d.length < 1) return new Malformed("UEFI_PLATFORM_FIRMWARE_BLOB2 is empty", d);
        int n = d[0] & 0xff;
        if (d.length != 1 + n + 16) {
            return new Malformed("BlobDescriptionSize " + n + " does not match the " + d.length + "-byte event", d);
        }
        String desc = Text.isAscii(java.util.Arrays.copyOfRange(d, 1, 1 + n)) ? Text.ascii(d, 1, n)
                : new String(d, 1, n, StandardCharsets.ISO_8859_1);
        return new FirmwareBlob(desc, Le.u64(d, 1 + n), Le.u64(d, 9 + n));
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (description != null) m.put("BlobDescription", description);
        m.put("BlobBase", String.format("0x%x", blobBase));
        m.put("BlobLength", String.format("0x%x", blobLength));
        return m;
    }

    @Override
    public String summary() {
        return (description != null ? "\"" + Text.escape(description) + "\" " : "")
                + String.format("base 0x%x length 0x%x", blobBase, blobLength);
    }
}
