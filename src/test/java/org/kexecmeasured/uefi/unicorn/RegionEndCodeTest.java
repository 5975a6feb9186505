package org.kexecmeasured.uefi.unicorn;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.RunResult;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Code whose instruction straddles the end of one of {@link UnicornCpu#map}'s engine regions ({@link
 * UnicornCpu#MAP_PIECE}), changed after it was translated and run: by the host (a write after the engine's first run
 * must drop the translated block, although only the bytes in the second region change) and by the guest itself
 * (self-modifying code: the engine's own write detection across the region end). The oracle is the x86 encoding:
 * {@code mov eax, imm32} (B8 + 4 little-endian bytes) whose last two immediate bytes lie past the region end, then
 * {@code hlt}; RAX after the second run must hold the new immediate, not the one translated first.
 */
class RegionEndCodeTest {

    static final long END = UnicornCpu.MAP_PIECE;
    /** B8 at END-3, immediate bytes at END-2 .. END+1 (the two high bytes in the next region), hlt at END+2. */
    static final long START = END - 3;
    static final byte[] MOV_HLT = {(byte) 0xB8, 0x5a, 0x5a, 0x5a, 0x5a, (byte) 0xF4};

    private UnicornCpu cpu;

    @BeforeEach
    void map() {
        cpu = new UnicornCpu();
        cpu.map(0x1000, 2 * UnicornCpu.MAP_PIECE - 0x1000);
        cpu.memory().write(START, MOV_HLT);
        assertEquals(0x5a5a5a5aL, runAt(START), "the straddling instruction as first translated");
    }

    @AfterEach
    void close() {
        cpu.close();
    }

    @Test
    void aHostWriteAfterTheFirstRunToTheSecondRegionIsTranslatedAfresh() {
        cpu.memory().write(END, new byte[]{0x11, 0x22}); // the immediate's two high bytes only
        assertEquals(0x22115a5aL, runAt(START));
    }

    @Test
    void theGuestRewritingTheSecondRegionsPartRunsTheNewBytes() {
        // movabs rbx, END+1; mov byte [rbx], 0x77; movabs rcx, START; jmp rcx
        ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x48).put((byte) 0xBB).putLong(END + 1);
        b.put((byte) 0xC6).put((byte) 0x03).put((byte) 0x77);
        b.put((byte) 0x48).put((byte) 0xB9).putLong(START);
        b.put((byte) 0xFF).put((byte) 0xE1);
        long code = 0x10_0000;
        cpu.memory().write(code, Arrays.copyOf(b.array(), b.position()));
        assertEquals(0x775a5a5aL, runAt(code));
    }

    private long runAt(long rip) {
        RunResult r = cpu.run(rip, 10_000_000);
        assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
        return cpu.reg(Cpu.Reg.RAX);
    }
}
