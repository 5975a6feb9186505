package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.util.Le;
import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * UEFI_VARIABLE_DATA (EV_EFI_VARIABLE_DRIVER_CONFIG / _BOOT / _BOOT2 / _AUTHORITY): vendor GUID,
 * UnicodeName (no NUL) and VariableData. Boot#### data is also decoded as EFI_LOAD_OPTION.
 */
public record EfiVariable(Guid variableName, String unicodeName, long unicodeNameLength, long variableDataLength,
                          byte[] variableData, LoadOption loadOption, List<SignatureLists.Entry> signatures)
        implements DecodedEvent {

    public static final Guid EFI_GLOBAL_VARIABLE = Guid.parse("8be4df61-93ca-11d2-aa0d-00e098032b8c");

    /** EFI_LOAD_OPTION of a Boot#### variable. */
    public record LoadOption(long attributes, String description, String devicePath, byte[] optionalData) {
    }

    public static DecodedEvent decode(byte[] d) {
        return decode(d, false);
    }

    /** {@code authority}: EV_EFI_VARIABLE_AUTHORITY, whose data is one EFI_SIGNATURE_DATA. */
    public static DecodedEvent decode(byte[] d, boolean authority) {
        if (d.length < 32) return new Malformed("UEFI_VARIABLE_DATA needs 32 bytes, has " + d.length, d);
        Guid guid = Guid.read(d, 0);
        long nameLen = org.kexecmeasured.util.Le.u64(d, 16);
        long dataLen = org.kexecmeasured.util.Le.u64(d, 24);
        long room = d.length - 32;
        if (nameLen < 0 || nameLen > room / 2) {
            return new Malformed("UnicodeNameLength " + Long.toUnsignedString(nameLen) + " exceeds the data", d);
        }
        if (dataLen < 0 || dataLen > room - 2 * nameLen) {
            return new Malformed("VariableDataLength " + Long.toUnsignedString(dataLen) + " exceeds the data", d);
        }
        String name = new String(d, 32, (int) (2 * nameLen), java.nio.charset.StandardCharsets.UTF_16LE);
        byte[] data = new byte[(int) dataLen];
        System.arraycopy(d, 32 + (int) (2 * nameLen), data, 0, data.length);
        LoadOption lo = null;
        if (guid.equals(EFI_GLOBAL_VARIABLE) && name.matches("(Boot|Driver|SysPrep)[0-9A-Fa-f]{4}")) {
            lo = loadOption(data);
        }
        List<SignatureLists.Entry> sigs = null;
        if (authority) {
            SignatureLists.Entry e = SignatureLists.parseAuthority(data);
            if (e != null) sigs = List.of(e);
        } else if (data.length > 0 && name.matches("PK|KEK|db|dbx|dbt|dbr|PKDefault|KEKDefault|dbDefault|dbxDefault")) {
            sigs = SignatureLists.parseLists(data);
        }
        return new EfiVariable(guid, name, nameLen, dataLen, data, lo, sigs == null ? null : List.copyOf(sigs));
    }

    private static LoadOption loadOption(byte[] v) {
        if (v.length < 6) return null;
        long attrs = org.kexecmeasured.util.Le.u32(v, 0);
        int fpl = org.kexecmeasured.util.Le.u16(v, 4);
        int p = 6;
        int end = p;
        while (end + 1 < v.length && (v[end] != 0 || v[end + 1] != 0)) end += 2;
        if (end + 1 >= v.length) return null;
        String desc = Text.utf16(v, p, end - p);
        p = end + 2;
        if (fpl > v.length - p) return null;
        String dp;
        try {
            dp = DevicePath.parse(v, p, fpl).toText();
        } catch (RuntimeException e) {
            dp = "(bad device path: " + e.getMessage() + ")";
        }
        byte[] opt = new byte[v.length - p - fpl];
        System.arraycopy(v, p + fpl, opt, 0, opt.length);
        return new LoadOption(attrs, desc, dp, opt);
    }

    @Override
    public byte[] variableData() {
        return variableData.clone();
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("VariableName", variableName.toString());
        m.put("UnicodeNameLength", unicodeNameLength);
        m.put("VariableDataLength", variableDataLength);
        m.put("UnicodeName", unicodeName);
        if (variableData.length > 0) m.put("VariableData", Hex.of(variableData));
        if (signatures != null) {
            List<Map<String, Object>> l = new ArrayList<>();
            for (SignatureLists.Entry e : signatures) l.add(e.fields());
            m.put("Signatures", l);
        }
        if (loadOption != null) {
            Map<String, Object> lo = new LinkedHashMap<>();
            lo.put("Attributes", loadOption.attributes);
            lo.put("Description", loadOption.description);
            lo.put("DevicePath", loadOption.devicePath);
            if (loadOption.optionalData.length > 0) lo.put("OptionalData", Hex.of(loadOption.optionalData));
            m.put("LoadOption", lo);
        }
        return m;
    }

    @Override
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(variableName).append(':').append(Text.escape(unicodeName));
        if (signatures != null) {
            sb.append(": ").append(Text.escape(SignatureLists.summary(signatures)));
        } else if (loadOption != null) {
            sb.append(" \"").append(Text.escape(loadOption.description)).append("\" ").append(Text.escape(loadOption.devicePath));
        } else if (unicodeName.equals("SecureBoot") && variableData.length == 1) {
            sb.append(variableData[0] == 1 ? " = enabled" : variableData[0] == 0 ? " = disabled" : " = " + Hex.of(variableData));
        } else if (unicodeName.equals("BootOrder")) {
            sb.append(" =");
            for (int i = 0; i + 1 < variableData.length; i += 2) {
                sb.append(String.format(" %04X", org.kexecmeasured.util.Le.u16(variableData, i)));
            }
        } else if (Text.isAscii(variableData)) {
            sb.append(" = \"").append(Text.escape(Text.ascii(variableData, 0, variableData.length))).append('"');
        } else {
            sb.append(" (").append(variableData.length).append(" bytes)");
            if (variableData.length > 0) sb.append(' ').append(Text.hexPreview(variableData));
        }
        return sb.toString();
    }
}
