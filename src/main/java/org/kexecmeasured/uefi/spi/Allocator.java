package org.kexecmeasured.uefi.spi;

/**
 * Where the firmware and its protocols get guest memory: the firmware area for their own structures
 * (function tables, protocol interfaces, device paths; zeroed, BootServicesData, never freed) and the
 * memory map's pages and pools (what AllocatePages/AllocatePool hand out).
 */
public interface Allocator {

    /** {@code size} zeroed bytes (16-byte aligned) in the firmware area; its exhaustion stops the run. */
    long firmwareAlloc(long size);

    /** A copy of {@code data} in the firmware area; its address. */
    long firmwareCopy(byte[] data);

    /** AllocatePages(AnyPages) on the firmware's behalf; -1 when memory is exhausted. */
    long allocatePages(MemoryType type, long pages);

    /** AllocatePool (whole pages) on the firmware's behalf; -1 when memory is exhausted. */
    long allocatePool(MemoryType type, long size);
}
