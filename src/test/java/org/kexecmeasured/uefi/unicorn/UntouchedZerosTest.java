package org.kexecmeasured.uefi.unicorn;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.RunResult;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link UnicornCpu#untouchedZeros} lets the firmware skip zero-filling its allocations during set-up: it may answer
 * true only for RAM no write can have reached. The oracle for every "true" is the engine's own read of the range
 * (zeros); every write path before the first run (host writes, merged ranges, deferred content) must turn it false,
 * and once the guest has run nothing is untouched any more.
 */
class UntouchedZerosTest {

    static final long RAM = 0x1000;
    static final long SIZE = 64L << 20;
    static final long W = 0x20_0000;

    private UnicornCpu cpu;
    private GuestMemory mem;

    @BeforeEach
    void mapRam() {
        cpu = new UnicornCpu();
        cpu.map(RAM, SIZE);
        mem = cpu.memory();
    }

    @AfterEach
    void close() {
        cpu.close();
    }

    /** True only where the bytes are zeros: checked by reading them back. */
    private boolean untouched(long address, long len) {
        boolean u = mem.untouchedZeros(address, len);
        if (u) {
            assertArrayEquals(new byte[(int) len], mem.read(address, (int) len),
                    "claimed untouched at 0x" + Long.toHexString(address));
        }
        return u;
    }

    @Test
    void freshRamIsUntouchedAndZero() {
        assertTrue(untouched(RAM, 4096));
        assertTrue(untouched(RAM + SIZE - 4096, 4096));
    }

    @Test
    void notRamIsNeverUntouched() {
        assertFalse(mem.untouchedZeros(0, 16), "page 0 is not mapped");
        assertFalse(mem.untouchedZeros(RAM + SIZE - 8, 16), "past the end of RAM");
        cpu.mapReadExecute(0xFFE0_0000L, new byte[4096]);
        assertFalse(mem.untouchedZeros(0xFFE0_0000L, 16), "the engine's own memory");
        assertFalse(mem.untouchedZeros(W, 0), "an empty range claims nothing");
    }

    @Test
    void everyHostWriteCounts() {
        mem.write(W, new byte[]{1, 2, 3, 4, 5, 6, 7, 8});
        assertFalse(untouched(W - 16, 32));
        assertFalse(untouched(W + 7, 1));
        assertTrue(untouched(W - 8, 8), "just before the write");
        assertTrue(untouched(W + 8, 8), "just after it");
        // zeros written are a write all the same (the bytes are not what was mapped: the host chose them)
        mem.write(W + 0x100, new byte[16]);
        assertFalse(mem.untouchedZeros(W + 0x108, 1));
    }

    @Test
    void mergedWritesLeaveNoGap() {
        mem.write(W + 0x100, new byte[]{1});
        mem.write(W + 0x300, new byte[]{1});
        assertTrue(untouched(W + 0x180, 16), "between two writes");
        mem.write(W + 0x80, new byte[0x400]); // covers both and the gap
        assertFalse(untouched(W + 0x180, 16));
        assertFalse(untouched(W + 0x47F, 1));
        assertTrue(untouched(W + 0x480, 16));
        mem.write(W + 0x480, new byte[]{1}); // adjacent to the merged range
        assertFalse(untouched(W + 0x470, 32));
        assertTrue(untouched(W + 0x481, 16));
    }

    @Test
    void deferredContentIsNotUntouched() {
        byte[] content = new byte[2 << 20];
        new Random(7).nextBytes(content);
        long at = 0x100_0000;
        mem.place(at, ByteBuffer.wrap(content));
        assertFalse(mem.untouchedZeros(at + 0x1000, 4096), "deferred pages hold the content");
        assertFalse(mem.untouchedZeros(at, 16), "the partial first page was written");
        // a deferred page made RAM again (the host writes into it) stays touched
        mem.write(at + 0x2000, new byte[]{9});
        assertFalse(mem.untouchedZeros(at + 0x3000, 16));
    }

    @Test
    void nothingIsUntouchedOnceTheGuestRan() {
        long target = W + 0x1000;
        // movabs rax, -1; movabs [target], rax; hlt
        ByteBuffer code = ByteBuffer.allocate(21).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        code.put((byte) 0x48).put((byte) 0xB8).putLong(-1).put((byte) 0x48).put((byte) 0xA3).putLong(target)
                .put((byte) 0xF4);
        mem.write(W, code.array());
        assertTrue(untouched(target, 8));
        RunResult r = cpu.run(W, 10_000_000);
        assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
        assertEquals(-1L, mem.u64(target), "the guest wrote there");
        assertFalse(mem.untouchedZeros(target, 8));
        assertFalse(mem.untouchedZeros(RAM + SIZE - 4096, 4096), "nor anywhere else");
    }
}
