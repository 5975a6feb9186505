package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.MemoryType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The UEFI memory map as one ordered structure of non-overlapping ranges, with an EDK2-like top-down
 * page allocator. Every change bumps the map key; adjacent ranges of equal type and attributes merge.
 */
public final class MemoryMap {

    public static final long PAGE = 4096;
    /** Bytes per descriptor reported by GetMemoryMap (EDK2 uses 48: 40 bytes + padding). */
    public static final int DESCRIPTOR_SIZE = 48;
    public static final int DESCRIPTOR_VERSION = 1;
    /** EFI_MEMORY_UC | WC | WT | WB. */
    public static final long ATTR_CACHEABLE = 0xF;
    public static final long EFI_MEMORY_RUNTIME = 0x8000000000000000L;

    public enum AllocateType { AnyPages, MaxAddress, Address }

    /** One range [start, end). */
    public record Region(long start, long end, MemoryType type, long attribute) {
        public long pages() {
            return (end - start) / PAGE;
        }
    }

    private final TreeMap<Long, Region> map = new TreeMap<>();
    private long mapKey = 1;
    /** Pages ever handed out; pages never handed out are still zero (lazily backed guest RAM). */
    private final BitSet used = new BitSet();
    private BitSet lastReused = new BitSet();
    /**
     * Pages handed out by {@link #allocate} and not freed since: only these may be freed (EDK2: FreePages of
     * a range AllocatePages did not return is NOT_FOUND), never the firmware's own ranges from {@link #add}.
     */
    private final BitSet allocated = new BitSet();
    /** Largest allocation or free, in pages (1 TiB). */
    private static final long MAX_PAGES = (1L << 40) / PAGE;

    public long mapKey() {
        return mapKey;
    }

    /** Adds RAM [start, end) of {@code type}; pages must not overlap existing ranges. */
    public void add(long start, long end, MemoryType type) {
        if ((start | end) % PAGE != 0 || end <= start) {
            throw new IllegalArgumentException("bad range");
        }
        Map.Entry<Long, Region> e = map.floorEntry(end - 1);
        if (e != null && e.getValue().end > start) {
            throw new IllegalArgumentException("overlapping range");
        }
        map.put(start, new Region(start, end, type, attributeFor(type)));
        if (type != MemoryType.ConventionalMemory && end / PAGE <= Integer.MAX_VALUE) {
            used.set((int) (start / PAGE), (int) (end / PAGE)); // may hold data: zero it if ever reused
        }
        mergeAround(start);
        mapKey++;
    }

    private static long attributeFor(MemoryType t) {
        return t.runtime() ? ATTR_CACHEABLE | EFI_MEMORY_RUNTIME : ATTR_CACHEABLE;
    }

    public List<Region> regions() {
        return new ArrayList<>(map.values());
    }

    /** The range containing {@code address}, or null. */
    public Region find(long address) {
        Map.Entry<Long, Region> e = map.floorEntry(address);
        return e != null && e.getValue().end > address ? e.getValue() : null;
    }

    /** True if all of [start, end) is in the map with type {@code type}. */
    public boolean isAll(long start, long end, MemoryType type) {
        long p = start;
        while (p < end) {
            Region r = find(p);
            if (r == null || r.type != type) {
                return false;
            }
            p = r.end;
        }
        return true;
    }

    /**
     * AllocatePages. Returns the address, or -1 if no free range fits ({@code OUT_OF_RESOURCES} /
     * {@code NOT_FOUND} for Address).
     */
    public long allocate(AllocateType how, MemoryType type, long pages, long address) {
        if (pages <= 0 || pages > MAX_PAGES) {
            return -1;
        }
        long size = pages * PAGE;
        long chosen = -1;
        switch (how) {
            case Address -> {
                if (address % PAGE != 0 || address + size < address) {
                    return -1;
                }
                if (isAll(address, address + size, MemoryType.ConventionalMemory)) {
                    chosen = address;
                }
            }
            case AnyPages, MaxAddress -> {
                // MaxAddress is unsigned: Linux passes ALIGN_DOWN(ULONG_MAX + 1) - 1 = 2^64 - 1
                long limit = how == AllocateType.AnyPages ? -1L : address;
                for (Region r : map.descendingMap().values()) {
                    if (r.type != MemoryType.ConventionalMemory) {
                        continue;
                    }
                    long top = r.end;
                    if (Long.compareUnsigned(top - 1, limit) > 0) {
                        top = Long.divideUnsigned(limit + 1, PAGE) * PAGE;
                    }
                    if (top - size >= r.start && top > r.start) {
                        chosen = top - size;
                        break;
                    }
                }
            }
        }
        if (chosen < 0) {
            return -1;
        }
        int first = (int) (chosen / PAGE);
        lastReused = used.get(first, first + (int) pages);
        setType(chosen, chosen + size, type);
        allocated.set(first, first + (int) pages);
        return chosen;
    }

    /**
     * Pages of the last allocation that had been allocated before (so may hold old data), as bits relative
     * to its first page. Pages never handed out read as zero.
     */
    public BitSet lastAllocationReusedPages() {
        return (BitSet) lastReused.clone();
    }

    /**
     * FreePages: the whole range must have been returned by {@link #allocate} and not freed since (so never
     * the firmware's own page tables, tables or stack); returns false (NOT_FOUND) otherwise.
     */
    public boolean free(long address, long pages) {
        if (address % PAGE != 0 || pages <= 0 || pages > MAX_PAGES) {
            return false;
        }
        long end = address + pages * PAGE;
        if (Long.compareUnsigned(end, address) <= 0 || address < 0 || end / PAGE > Integer.MAX_VALUE) {
            return false; // wraps, or beyond any page the allocator hands out
        }
        int first = (int) (address / PAGE);
        int last = (int) (end / PAGE);
        if (allocated.nextClearBit(first) < last) {
            return false;
        }
        long p = address;
        while (p < end) {
            Region r = find(p);
            if (r == null || r.type == MemoryType.ConventionalMemory || r.type == MemoryType.ReservedMemoryType) {
                return false;
            }
            p = r.end;
        }
        setType(address, end, MemoryType.ConventionalMemory);
        allocated.clear(first, last);
        return true;
    }

    /** Changes the type of [start, end) (must be covered by the map), splitting and merging ranges. */
    public void setType(long start, long end, MemoryType type) {
        split(start);
        split(end);
        if (type != MemoryType.ConventionalMemory && end / PAGE <= Integer.MAX_VALUE) {
            used.set((int) (start / PAGE), (int) (end / PAGE));
        }
        long p = start;
        while (p < end) {
            Region r = map.get(p);
            map.put(p, new Region(r.start, r.end, type, attributeFor(type)));
            p = r.end;
        }
        mergeAround(start);
        if (map.containsKey(end)) {
            mergeAround(end);
        }
        mapKey++;
    }

    private void split(long at) {
        Region r = find(at);
        if (r == null || r.start == at) {
            return;
        }
        map.put(r.start, new Region(r.start, at, r.type, r.attribute));
        map.put(at, new Region(at, r.end, r.type, r.attribute));
    }

    private void mergeAround(long start) {
        Region r = map.get(start);
        if (r == null) {
            return;
        }
        // merge with following ranges
        while (true) {
            Region n = map.get(r.end);
            if (n == null || n.type != r.type || n.attribute != r.attribute) {
                break;
            }
            map.remove(n.start);
            r = new Region(r.start, n.end, r.type, r.attribute);
            map.put(r.start, r);
        }
        // merge with the previous range
        Map.Entry<Long, Region> pe = map.lowerEntry(r.start);
        if (pe != null) {
            Region p = pe.getValue();
            if (p.end == r.start && p.type == r.type && p.attribute == r.attribute) {
                map.remove(r.start);
                map.put(p.start, new Region(p.start, r.end, p.type, p.attribute));
            }
        }
    }

    /** EFI_MEMORY_DESCRIPTORs, {@link #DESCRIPTOR_SIZE} bytes each. */
    public byte[] descriptors() {
        ByteBuffer bb = ByteBuffer.allocate(map.size() * DESCRIPTOR_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int i = 0;
        for (Region r : map.values()) {
            bb.position(i++ * DESCRIPTOR_SIZE);
            bb.putInt(r.type.ordinal()).putInt(0).putLong(r.start).putLong(0).putLong(r.pages()).putLong(r.attribute);
        }
        return bb.array();
    }

    public int size() {
        return map.size();
    }

    /** Bytes of free (Conventional) memory. */
    public long freeBytes() {
        long s = 0;
        for (Region r : map.values()) {
            if (r.type == MemoryType.ConventionalMemory) {
                s += r.end - r.start;
            }
        }
        return s;
    }
}
