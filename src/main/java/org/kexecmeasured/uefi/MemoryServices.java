package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.Allocator;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;

import java.util.HashMap;
import java.util.Map;

/**
 * Memory Allocation Services (UEFI 2.10 §7.2) over the {@link MemoryMap}: AllocatePages, FreePages,
 * GetMemoryMap, AllocatePool, FreePool; and the {@link Allocator} the firmware and its protocols use.
 */
final class MemoryServices implements Allocator {

    /** Live pools at most; AllocatePool past it is OUT_OF_RESOURCES. */
    static final int MAX_POOLS = 100_000;

    private final Machine machine;
    private final GuestMemory mem;
    private final MemoryMap map;
    /** Pool address → pages (pools are whole pages). */
    private final Map<Long, Long> pools = new HashMap<>();
    /** Told of every range the guest gets from AllocatePages (the firmware's {@link KernelEntryWatch}). */
    private java.util.function.BiConsumer<Long, Long> pagesListener = (base, pages) -> { };

    MemoryServices(Machine machine, MemoryMap map) {
        this.machine = machine;
        this.mem = machine.mem();
        this.map = map;
    }

    // ---------------------------------------------------------------- Allocator

    @Override
    public long firmwareAlloc(long size) {
        return machine.fwAlloc(size);
    }

    @Override
    public long firmwareCopy(byte[] data) {
        return machine.fwCopy(data);
    }

    @Override
    public long allocatePages(MemoryType type, long pages) {
        return map.allocate(MemoryMap.AllocateType.AnyPages, type, pages, 0);
    }

    @Override
    public long allocatePool(MemoryType type, long size) {
        if (size < 0 || pools.size() >= MAX_POOLS) {
            return -1;
        }
        long pages = Math.max(1, (size + MemoryMap.PAGE - 1) / MemoryMap.PAGE);
        long a = map.allocate(MemoryMap.AllocateType.AnyPages, type, pages, 0);
        if (a < 0) {
            return -1;
        }
        pools.put(a, pages);
        return a;
    }

    // ---------------------------------------------------------------- boot services

    /** The types a payload may allocate: not free memory itself, nor types firmware alone describes. */
    private static MemoryType allocatableType(long t) {
        MemoryType mt = MemoryType.of(t);
        if (mt == null || mt == MemoryType.ConventionalMemory || mt == MemoryType.PersistentMemory
                || mt == MemoryType.UnacceptedMemoryType) {
            return null;
        }
        return mt;
    }

    /** AllocatePages(Type, MemoryType, Pages, *Memory). */
    long allocatePages(Call c) {
        long how = c.arg(0);
        MemoryType type = allocatableType(c.arg(1));
        long pages = c.arg(2);
        long memoryPtr = c.arg(3);
        if (how > 2 || type == null || memoryPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long address = how == 0 ? 0 : mem.u64(memoryPtr); // MaxAddress and Address take *Memory as input
        long a = map.allocate(MemoryMap.AllocateType.values()[(int) how], type, pages, address);
        if (a < 0) {
            return how == 2 ? EfiStatus.NOT_FOUND : EfiStatus.OUT_OF_RESOURCES;
        }
        mem.putU64(memoryPtr, a);
        pagesListener.accept(a, pages);
        return EfiStatus.SUCCESS;
    }

    /** Sets who is told of each AllocatePages range (base, pages). */
    void setPagesListener(java.util.function.BiConsumer<Long, Long> listener) {
        pagesListener = listener;
    }

    /** FreePages(Memory, Pages). */
    long freePages(Call c) {
        return map.free(c.arg(0), c.arg(1)) ? EfiStatus.SUCCESS : EfiStatus.NOT_FOUND;
    }

    /** GetMemoryMap(*MemoryMapSize, *MemoryMap, *MapKey, *DescriptorSize, *DescriptorVersion). */
    long getMemoryMap(Call c) {
        long sizePtr = c.arg(0);
        long mapPtr = c.arg(1);
        long keyPtr = c.arg(2);
        long descriptorSizePtr = c.arg(3);
        long versionPtr = c.arg(4);
        if (sizePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        byte[] d = map.descriptors();
        long have = mem.u64(sizePtr);
        mem.putU64(sizePtr, d.length);
        if (descriptorSizePtr != 0) {
            mem.putU64(descriptorSizePtr, MemoryMap.DESCRIPTOR_SIZE);
        }
        if (versionPtr != 0) {
            mem.putU32(versionPtr, MemoryMap.DESCRIPTOR_VERSION);
        }
        if (have < d.length) {
            return EfiStatus.BUFFER_TOO_SMALL;
        }
        if (mapPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        mem.write(mapPtr, d);
        if (keyPtr != 0) {
            mem.putU64(keyPtr, map.mapKey());
        }
        return EfiStatus.SUCCESS;
    }

    /** AllocatePool(PoolType, Size, *Buffer). */
    long allocatePool(Call c) {
        MemoryType type = allocatableType(c.arg(0));
        long size = c.arg(1);
        long bufferPtr = c.arg(2);
        if (type == null || bufferPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long a = allocatePool(type, size);
        if (a < 0) {
            return EfiStatus.OUT_OF_RESOURCES;
        }
        mem.putU64(bufferPtr, a);
        return EfiStatus.SUCCESS;
    }

    /** FreePool(Buffer): only what AllocatePool returned. */
    long freePool(Call c) {
        Long pages = pools.remove(c.arg(0));
        if (pages == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        map.free(c.arg(0), pages);
        return EfiStatus.SUCCESS;
    }
}
