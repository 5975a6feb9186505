package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.Le;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** UEFI_GPT_DATA (EV_EFI_GPT_EVENT): the GPT header, then NumberOfPartitions entries. */
public record GptEvent(Guid diskGuid, long numberOfPartitionEntries, long sizeOfPartitionEntry,
                       List<Partition> partitions) implements DecodedEvent {

    static final int HEADER = 92;

    public record Partition(Guid type, Guid unique, long startingLba, long endingLba, long attributes, String name) {
    }

    public static DecodedEvent decode(byte[] d) {
        if (d.length < HEADER + 8) return new Malformed("UEFI_GPT_DATA needs " + (HEADER + 8) + " bytes, has " + d.length, d);
        if (!Text.ascii(d, 0, 8).equals("EFI PART")) return new Malformed("GPT header signature is not \"EFI PART\"", d);
        Guid disk = Guid.read(d, 56);
        long entries = Le.u32(d, 80);
        long entrySize = Le.u32(d, 84);
        long n = Le.u64(d, HEADER);
        if (entrySize < 128) return new Malformed("SizeOfPartitionEntry " + entrySize + " is below 128", d);
        long room = d.length - HEADER - 8;
        if (n < 0 || n > room / entrySize) {
            return new Malformed("NumberOfPartitions " + Long.toUnsignedString(n) + " exceeds the data", d);
        }
        List<Partition> parts = new ArrayList<>();
        int p = HEADER + 8;
        for (int i = 0; i < n; i++) {
            parts.add(new Partition(Guid.read(d, p), Guid.read(d, p + 16), Le.u64(d, p + 32), Le.u64(d, p + 40),
                    Le.u64(d, p + 48), Text.utf16(d, p + 56, 72)));
            p += (int) entrySize;
        }
        return new GptEvent(disk, entries, entrySize, List.copyOf(parts));
    }

    @Override
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("DiskGUID", diskGuid.toString());
        m.put("NumberOfPartitionEntries", numberOfPartitionEntries);
        m.put("SizeOfPartitionEntry", sizeOfPartitionEntry);
        m.put("NumberOfPartitions", partitions.size());
        List<Map<String, Object>> l = new ArrayList<>();
        for (Partition p : partitions) {
            Map<String, Object> pm = new LinkedHashMap<>();
            pm.put("PartitionTypeGUID", p.type.toString());
            pm.put("UniquePartitionGUID", p.unique.toString());
            pm.put("StartingLBA", p.startingLba);
            pm.put("EndingLBA", p.endingLba);
            pm.put("Attributes", String.format("0x%x", p.attributes));
            pm.put("PartitionName", p.name);
            l.add(pm);
        }
        m.put("Partitions", l);
        return m;
    }

    @Override
    public String summary() {
        StringBuilder sb = new StringBuilder("disk ").append(diskGuid).append(", ").append(partitions.size()).append(" partitions");
        for (Partition p : partitions) sb.append(" [").append(Text.escape(p.name)).append(']');
        return sb.toString();
    }
}
