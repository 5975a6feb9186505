package org.kexecmeasured.uefi.unicorn;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.GuestMemoryException;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link GuestMemory#isGuestWritable} on the Unicorn engine, and every host write path refusing what it is not:
 * RAM (deferred pages included) is writable, the read-execute mapping and unmapped memory are not, and a refused
 * write changes nothing, not even the RAM part of a range that ends in read-only memory. Unicorn's own
 * {@code uc_mem_write} would have written all of them.
 */
class GuestWritableTest {

    private static final long RAM = 0x10_0000;
    private static final long RAM_SIZE = 0x40_0000;
    /** Read-execute, right after the RAM: a range can run from one into the other. */
    private static final long RX = RAM + RAM_SIZE;
    private static final int RX_SIZE = 0x1000;

    private UnicornCpu cpu;
    private GuestMemory mem;
    private byte[] stubs;

    @BeforeEach
    void open() {
        cpu = new UnicornCpu();
        cpu.map(RAM, RAM_SIZE);
        stubs = new byte[RX_SIZE];
        Arrays.fill(stubs, (byte) 0xC3);
        cpu.mapReadExecute(RX, stubs);
        mem = cpu.memory();
    }

    @AfterEach
    void close() {
        cpu.close();
    }

    @Test
    void ramIsWritableAndTheReadExecuteMappingIsNot() {
        assertTrue(mem.isGuestWritable(RAM, RAM_SIZE));
        assertTrue(mem.isMapped(RX, RX_SIZE));
        assertFalse(mem.isGuestWritable(RX, 1));
        assertFalse(mem.isGuestWritable(RX - 8, 16), "a range from RAM into the read-only page");
        assertFalse(mem.isGuestWritable(RX + RX_SIZE, 1), "unmapped");
        assertFalse(mem.isGuestWritable(-8, 16), "a range that wraps");
        assertArrayEquals(stubs, mem.read(RX, RX_SIZE), "mapReadExecute placed the content");
    }

    @Test
    void deferredRamCountsAsWritableAndTakesAWrite() {
        byte[] section = new byte[(int) (2 * UnicornCpu.DEFER_AT_LEAST)];
        new Random(5).nextBytes(section);
        mem.place(RAM, ByteBuffer.wrap(section).asReadOnlyBuffer());
        long zeros = RAM + section.length;
        mem.zeroPages(zeros, UnicornCpu.DEFER_AT_LEAST);
        assertTrue(mem.isGuestWritable(RAM, section.length + UnicornCpu.DEFER_AT_LEAST));
        mem.putU64(RAM + 0x1000, 0x1122334455667788L);
        mem.putU64(zeros + 8, -1L);
        assertTrue(mem.u64(RAM + 0x1000) == 0x1122334455667788L);
        assertTrue(mem.u64(zeros + 8) == -1L);
        assertTrue(mem.u8(RAM + 0x2000) == (section[0x2000] & 0xff), "the rest of the section is unchanged");
    }

    @Test
    void everyWritePathRefusesTheReadExecutePageAndChangesNothing() {
        byte[] ramTail = mem.read(RX - 8, 8);
        Runnable[] writes = {
            () -> mem.write(RX, new byte[]{(byte) 0xF4}),
            () -> mem.write(RX - 8, new byte[16]), // the RAM part must not be written either
            () -> mem.putU8(RX + 1, 0xF4),
            () -> mem.putU32(RX + 4, 0xF4F4F4F4L),
            () -> mem.putU64(RX + 8, -1L),
            () -> mem.putGuid(RX + 16, org.kexecmeasured.efi.Guid.parse("8be4df61-93ca-11d2-aa0d-00e098032b8c")),
            () -> mem.fill(RX - 8, 16, (byte) 0xF4),
            () -> mem.copy(RX, RAM, 16),
            () -> mem.copy(RX - 8, RAM, 16),
            () -> mem.zeroPages(RX, RX_SIZE),
            () -> mem.place(RX, ByteBuffer.allocate(16)),
        };
        for (int i = 0; i < writes.length; i++) {
            GuestMemoryException e = assertThrows(GuestMemoryException.class, writes[i]::run, "write path " + i);
            assertTrue(e.getMessage().contains("read-only memory"), e.getMessage());
            assertArrayEquals(stubs, mem.read(RX, RX_SIZE), "the read-execute page after write path " + i);
            assertArrayEquals(ramTail, mem.read(RX - 8, 8), "the RAM before it after write path " + i);
        }
        GuestMemoryException e = assertThrows(GuestMemoryException.class,
                () -> mem.write(RX + RX_SIZE, new byte[1]));
        assertTrue(e.getMessage().contains("outside guest RAM"), e.getMessage());
    }
}
