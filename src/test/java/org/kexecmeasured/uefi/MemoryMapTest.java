package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.MemoryType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryMapTest {

    private static MemoryMap oneGiB() {
        MemoryMap m = new MemoryMap();
        m.add(0, 0x1000, MemoryType.ReservedMemoryType);
        m.add(0x1000, 1L << 30, MemoryType.ConventionalMemory);
        return m;
    }

    @Test
    void anyPagesAllocatesTopDownAndMergesEqualNeighbours() {
        MemoryMap m = oneGiB();
        long a = m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.LoaderData, 2, 0);
        long b = m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.LoaderData, 1, 0);
        assertEquals((1L << 30) - 0x2000, a);
        assertEquals(a - 0x1000, b);
        assertEquals(3, m.size(), "reserved, free, one merged LoaderData range");
    }

    @Test
    void maxAddressIsUnsignedAndRespected() {
        MemoryMap m = oneGiB();
        assertEquals((1L << 30) - 0x1000, m.allocate(MemoryMap.AllocateType.MaxAddress, MemoryType.LoaderData, 1, -1L));
        long a = m.allocate(MemoryMap.AllocateType.MaxAddress, MemoryType.LoaderData, 1, 0x10_0000 - 1);
        assertEquals(0xFF000, a);
    }

    @Test
    void addressAllocationNeedsFreePagesAndFreeRestores() {
        MemoryMap m = oneGiB();
        long key = m.mapKey();
        assertEquals(0x200000, m.allocate(MemoryMap.AllocateType.Address, MemoryType.LoaderCode, 0x4000, 0x200000));
        assertTrue(m.mapKey() > key, "map key bumps on change");
        assertEquals(-1, m.allocate(MemoryMap.AllocateType.Address, MemoryType.LoaderCode, 1, 0x201000));
        assertEquals(-1, m.allocate(MemoryMap.AllocateType.Address, MemoryType.LoaderCode, 1, 0), "page 0 is reserved");
        assertFalse(m.free(0x100000, 1), "freeing free memory fails");
        assertTrue(m.free(0x200000, 0x4000));
        assertEquals(2, m.size());
    }

    @Test
    void exhaustionReturnsMinusOne() {
        MemoryMap m = oneGiB();
        assertEquals(-1, m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.LoaderData, (1L << 30) / 4096, 0));
        assertTrue(m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.LoaderData, (1L << 30) / 4096 - 1, 0) > 0);
        assertEquals(-1, m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.LoaderData, 1, 0));
    }

    @Test
    void descriptorsAre48BytesInEfiLayout() {
        MemoryMap m = oneGiB();
        m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.ACPIReclaimMemory, 1, 0);
        byte[] d = m.descriptors();
        assertEquals(3 * 48, d.length);
        ByteBuffer bb = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(MemoryType.ReservedMemoryType.ordinal(), bb.getInt(0));
        assertEquals(7, bb.getInt(48), "EfiConventionalMemory");
        assertEquals(0x1000, bb.getLong(48 + 8), "PhysicalStart");
        assertEquals(9, bb.getInt(96), "EfiACPIReclaimMemory");
        assertEquals(1, bb.getLong(96 + 24), "NumberOfPages");
        assertEquals(0xF, bb.getLong(96 + 32), "Attribute UC|WC|WT|WB");
    }

    @Test
    void freeWithAWrappingPageCountIsRefusedAndFreesNothing() {
        MemoryMap m = oneGiB();
        long a = m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.LoaderData, 1, 0);
        long free = m.freeBytes();
        assertFalse(m.free(a, 1L << 52), "pages * 4096 wraps to 0");
        assertFalse(m.free(a, -1L));
        assertFalse(m.free(a, (1L << 40) / MemoryMap.PAGE + 1), "more pages than any allocation");
        assertEquals(free, m.freeBytes());
        assertTrue(m.free(a, 1));
    }

    @Test
    void onlyRangesTheAllocatorHandedOutCanBeFreed() {
        MemoryMap m = new MemoryMap();
        m.add(0x1000, 0x10_0000, MemoryType.ConventionalMemory);
        m.add(0x10_0000, 0x20_0000, MemoryType.BootServicesData); // firmware: page tables, tables, stack
        long free = m.freeBytes();
        assertFalse(m.free(0x10_0000, 1), "the firmware's own BootServicesData");
        assertFalse(m.free(0x10_0000, 0x100));
        long a = m.allocate(MemoryMap.AllocateType.AnyPages, MemoryType.BootServicesData, 2, 0);
        assertEquals(0xFE000, a, "next to the firmware range, merged with it in the map");
        assertFalse(m.free(a, 3), "one page past the allocation is the firmware's");
        assertTrue(m.free(a, 2));
        assertFalse(m.free(a, 2), "not twice");
        assertEquals(free, m.freeBytes());
    }
}
