package org.kexecmeasured.uefi.unicorn;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Host memory behind guest RAM, mapped into the engine with {@code uc_mem_map_ptr}: anonymous, reserved
 * lazily (MAP_NORESERVE: 1 GiB of guest RAM costs only the pages the guest touches) and advised for
 * transparent huge pages. The engine's own {@code uc_mem_map} RAM takes a 4 KiB page fault for every page
 * first written (the UKI's image, the guest's copy of its initrd for LoadFile2); here a 2 MiB page where the
 * kernel offers them on request ({@code /sys/kernel/mm/transparent_hugepage/enabled} = madvise or always).
 * Measured on a 60 MiB UKI's {@code boot --no-load}: 12k minor faults for the whole process instead of 43k,
 * ~0.45 CPU-s less, in a virtual machine where each fault is expensive.
 * Where the advice is refused, the memory is ordinary anonymous memory: nothing else changes.
 */
final class HostRam implements AutoCloseable {

    private interface LibC extends Library {
        LibC INSTANCE = Native.load("c", LibC.class);

        Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

        int munmap(Pointer addr, long length);

        int madvise(Pointer addr, long length, int advice);
    }

    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MAP_NORESERVE = 0x4000;
    private static final int MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1;
    /** x86-64 huge page: the mapping is aligned to it, so every 2 MiB of guest RAM can be one host page. */
    static final long HUGE = 2L << 20;

    private final Pointer mapping;
    private final long mappingSize;
    /** The 2 MiB-aligned start inside {@link #mapping}: what the engine maps. */
    final Pointer base;
    final long size;

    /** @param size bytes of guest RAM (a multiple of 4 KiB) */
    HostRam(long size) {
        this.size = size;
        this.mappingSize = size + HUGE; // room to align the start
        Pointer m = LibC.INSTANCE.mmap(null, mappingSize, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == null || Pointer.nativeValue(m) == MAP_FAILED) {
            throw new OutOfMemoryError("cannot reserve " + size + " bytes of host memory for guest RAM (mmap failed)");
        }
        this.mapping = m;
        long start = Pointer.nativeValue(m);
        long aligned = (start + HUGE - 1) & -HUGE;
        this.base = new Pointer(aligned);
        // advice only: refused (THP off, old kernel) means 4 KiB pages, as before
        LibC.INSTANCE.madvise(base, size, MADV_HUGEPAGE);
    }

    /** Unmaps the memory: only after the engine that maps it is closed. */
    @Override
    public void close() {
        LibC.INSTANCE.munmap(mapping, mappingSize);
    }
}
