package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.Le;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** UEFI_HANDOFF_TABLE_POINTERS(2): configuration tables (GUID, pointer) the firmware hands to the OS. */
public record HandoffTables(String description, List<Entry> tables) implements DecodedEvent {

    public record Entry(Guid vendorGuid, long vendorTable) {
    }

    public static DecodedEvent decode(byte[] d, boolean v2) {
        int p = 0;
        String desc = null;
        if (v2) {
            if (d.length < 1) return new Malformed("UEFI_HANDOFF_TABLE_POINTERS2 is empty", d);
            int n = d[0] & 0xff;
            if (n > d.length - 1) return new Malformed("TableDescriptionSize " + n + " exceeds the data", d);
            desc = Text.ascii(d, 1, n);
            p = 1 + n;
        }
        if (d.length - p < 8) return new Malformed("handoff table count missing", d);
        long count = Le.u64(d, p);
        p += 8;
        if (count < 0 || count > (d.length - p) / 24) {
            return new Malformed("NumberOfTables " + Long.toUnsignedString(count) + " exceeds the data", d);
        }
        List<Entry> l = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            l.add(new Entry(Guid.read(d, p), Le.u64(d, p + 16)));
            p += 24;
        }
        return new HandoffTables(desc, List.copyOf(l));
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (description != null) m.put("TableDescription", description);
        m.put("NumberOfTables", tables.size());
        List<Map<String, Object>> l = new ArrayList<>();
        for (Entry e : tables) {
            Map<String, Object> em = new LinkedHashMap<>();
            em.put("VendorGuid", e.vendorGuid.toString());
            em.put("VendorTable", String.format("0x%x", e.vendorTable));
            l.add(em);
        }
        m.put("TableEntry", l);
        return m;
    }

    @Override
    public String summary() {
        StringBuilder sb = new StringBuilder();
        if (description != null) sb.append('"').append(Text.escape(description)).append("\" ");
        sb.append(tables.size()).append(" table(s)");
        for (Entry e : tables) sb.append(' ').append(e.vendorGuid);
        return sb.toString();
    }
}
