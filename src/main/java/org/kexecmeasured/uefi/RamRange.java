package org.kexecmeasured.uefi;

/** A range [start, end) of emulated RAM (page aligned, below the trap page at 0xFFE00000). */
public record RamRange(long start, long end) {
    public RamRange {
        if (start < 0 || end <= start || start % MemoryMap.PAGE != 0 || end % MemoryMap.PAGE != 0
                || end > Machine.TRAP_BASE) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "RAM range 0x%x-0x%x must be page aligned, non-empty and below 0x%x", start, end, Machine.TRAP_BASE));
        }
    }

    public long size() {
        return end - start;
    }
}
