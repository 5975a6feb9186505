package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.Hex;

import java.util.LinkedHashMap;
import java.util.Map;

/** UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_APPLICATION / _DRIVER, EV_EFI_RUNTIME_SERVICES_DRIVER). */
public record ImageLoad(long imageLocationInMemory, long imageLengthInMemory, long imageLinkTimeAddress,
                        long lengthOfDevicePath, byte[] devicePathBytes, String devicePath) implements DecodedEvent {

    public static DecodedEvent decode(byte[] d) {
        if (d.length < 32) return new Malformed("UEFI_IMAGE_LOAD_EVENT needs 32 bytes, has " + d.length, d);
        long loc = Le.u64(d, 0);
        long len = Le.u64(d, 8);
        long link = Le.u64(d, 16);
        long dpLen = Le.u64(d, 24);
        if (dpLen < 0 || dpLen > d.length - 32) {
            return new Malformed("LengthOfDevicePath " + Long.toUnsignedString(dpLen) + " exceeds the " + (d.length - 32)
                    + " bytes left", d);
        }
        byte[] dp = new byte[(int) dpLen];
        System.arraycopy(d, 32, dp, 0, dp.length);
        String text;
        try {
            text = DevicePath.parse(dp).toText();
        } catch (RuntimeException e) {
            text = null;
        }
        return new ImageLoad(loc, len, link, dpLen, dp, text);
    }

    @Override
    public byte[] devicePathBytes() {
        return devicePathBytes.clone();
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ImageLocationInMemory", String.format("0x%x", imageLocationInMemory));
        m.put("ImageLengthInMemory", imageLengthInMemory);
        m.put("ImageLinkTimeAddress", String.format("0x%x", imageLinkTimeAddress));
        m.put("LengthOfDevicePath", lengthOfDevicePath);
        m.put("DevicePath", devicePath != null ? devicePath : Hex.of(devicePathBytes));
        if (devicePath == null) m.put("DevicePathMalformed", true);
        return m;
    }

    @Override
    public String summary() {
        String dp = devicePath != null ? Text.escape(devicePath) : "(unparsable device path " + Text.hexPreview(devicePathBytes) + ")";
        return dp + " @0x" + Long.toHexString(imageLocationInMemory) + " len " + imageLengthInMemory; // no %d: see DevicePath
    }
}
