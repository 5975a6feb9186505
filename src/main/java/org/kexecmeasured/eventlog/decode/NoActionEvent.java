package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * EV_NO_ACTION data, told apart by its 16-byte signature: "Spec ID Event03" (crypto-agile header),
 * "Spec ID Event00" (TPM 1.2 header), "StartupLocality" (PCR 0 start value), "SP800-155 Event" /
 * "SP800-155 Event3" (reference-manifest pointer), others shown with their signature and hex.
 * EV_NONHOST_* data, which also starts with a vendor signature, is shown the same way.
 */
public record NoActionEvent(String signature, Map<String, Object> details, String summaryText) implements DecodedEvent {

    public static DecodedEvent decode(byte[] d) {
        if (d.length >= 16 && d[15] == 0 || d.length >= 16 && Text.isAscii(java.util.Arrays.copyOf(d, 16))) {
            String sig = Text.ascii(d, 0, 16);
            switch (sig) {
                case "Spec ID Event03": return specId(d);
                case "StartupLocality": {
                    if (d.length != 17) return new Malformed("StartupLocality event has " + d.length + " bytes, expected 17", d);
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("StartupLocality", d[16] & 0xff);
                    return new NoActionEvent(sig, m, "StartupLocality " + (d[16] & 0xff) + " (PCR 0 starts at 00…0" + (d[16] & 0xff) + ")");
                }
                case "SP800-155 Event":
                case "SP800-155 Event3":
                    return sp800155(sig, d);
                default:
                    if (sig.length() >= 4 && Text.isAscii(sig.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1))) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        if (d.length > 16) m.put("Data", Hex.of(d, 16, d.length - 16));
                        return new NoActionEvent(sig, m, "\"" + Text.escape(sig) + "\" " + (d.length > 16
                                ? Text.hexPreview(java.util.Arrays.copyOfRange(d, 16, d.length)) : ""));
                    }
            }
        }
        TextEvent t = d.length > 0 ? TextEvent.of(d) : null;
        if (t != null) return t;
        return new DecodedEvent.Raw(d);
    }

    private static DecodedEvent specId(byte[] d) {
        if (d.length < 29) return new Malformed("Spec ID event too short", d);
        long n = Le.u32(d, 24);
        if (n > (d.length - 29) / 4) return new Malformed("numberOfAlgorithms " + n + " exceeds the event", d);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("platformClass", Le.u32(d, 16));
        m.put("specVersionMinor", d[20] & 0xff);
        m.put("specVersionMajor", d[21] & 0xff);
        m.put("specErrata", d[22] & 0xff);
        m.put("uintnSize", d[23] & 0xff);
        m.put("numberOfAlgorithms", n);
        List<Map<String, Object>> algs = new ArrayList<>();
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int id = Le.u16(d, 28 + 4 * i);
            HashAlg a = HashAlg.fromAlgId(id);
            Map<String, Object> am = new LinkedHashMap<>();
            am.put("algorithmId", a != null ? a.tpmName : String.format("0x%04x", id));
            am.put("digestSize", Le.u16(d, 30 + 4 * i));
            algs.add(am);
            names.append(i > 0 ? "," : "").append(am.get("algorithmId"));
        }
        m.put("Algorithms", algs);
        int p = 28 + 4 * (int) n;
        int v = d[p] & 0xff;
        m.put("vendorInfoSize", v);
        if (v > 0 && v <= d.length - p - 1) m.put("vendorInfo", Hex.of(d, p + 1, v));
        return new NoActionEvent("Spec ID Event03", m, "Spec ID Event03, banks " + names
                + ", platformClass " + m.get("platformClass") + ", errata " + m.get("specErrata"));
    }

    private static DecodedEvent sp800155(String sig, byte[] d) {
        Map<String, Object> m = new LinkedHashMap<>();
        int p = 16;
        if (d.length - p < 20) return new Malformed(sig + " event too short", d);
        m.put("PlatformManufacturerId", Le.u32(d, p));
        m.put("ReferenceManifestGuid", Guid.read(d, p + 4).toString());
        p += 20;
        for (String f : new String[]{"PlatformManufacturerStr", "PlatformModel", "PlatformVersion", "FirmwareManufacturerStr"}) {
            if (p >= d.length) return new Malformed(sig + " truncated at " + f, d);
            int n = d[p] & 0xff;
            if (n > d.length - p - 1) return new Malformed(sig + " " + f + " size " + n + " exceeds the data", d);
            m.put(f, Text.ascii(d, p + 1, n));
            p += 1 + n;
        }
        if (d.length - p >= 4) {
            m.put("FirmwareManufacturerId", Le.u32(d, p));
            p += 4;
            if (p < d.length) {
                int n = d[p] & 0xff;
                if (n <= d.length - p - 1) {
                    m.put("FirmwareVersion", Text.ascii(d, p + 1, n));
                    p += 1 + n;
                }
            }
        }
        if (p < d.length) m.put("Remaining", Hex.of(d, p, d.length - p));
        return new NoActionEvent(sig, m, sig + ": " + m.get("PlatformManufacturerStr") + " " + m.get("PlatformModel")
                + " firmware " + m.getOrDefault("FirmwareVersion", "?"));
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("Signature", signature);
        m.putAll(details);
        return m;
    }

    @Override
    public String summary() {
        return summaryText;
    }
}
