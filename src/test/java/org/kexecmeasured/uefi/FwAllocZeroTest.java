package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.RunResult;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link Machine#fwAlloc} returns zeroed memory: during set-up by proof (fresh RAM nothing wrote), after the guest
 * ran by filling, because the guest may have written into the firmware area beyond what was allocated. The oracle is
 * the engine's read of the allocation.
 */
class FwAllocZeroTest {

    @Test
    void allocationsAreZeroBeforeAndAfterTheGuestRuns() {
        try (Machine m = new Machine(new UnicornCpu(), List.of(new RamRange(0, 64L << 20)), CpuModel.DEFAULT)) {
            long first = m.fwAlloc(0x3000, 0x1000);
            assertArrayEquals(new byte[0x3000], m.mem().read(first, 0x3000), "set-up allocation");

            // the guest writes ones into the firmware area beyond what is allocated so far
            long target = first + 0x5008;
            ByteBuffer code = ByteBuffer.allocate(21).order(ByteOrder.LITTLE_ENDIAN);
            code.put((byte) 0x48).put((byte) 0xB8).putLong(-1).put((byte) 0x48).put((byte) 0xA3).putLong(target)
                    .put((byte) 0xF4);
            long at = 0x10_0000;
            m.mem().write(at, code.array());
            RunResult r = m.cpu().run(at, 10_000_000);
            assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
            assertEquals(-1L, m.mem().u64(target), "the guest wrote into the firmware area");

            long next = m.fwAlloc(0x4000, 0x1000); // covers target
            assertEquals(first + 0x3000, next);
            assertArrayEquals(new byte[0x4000], m.mem().read(next, 0x4000), "allocation after the guest ran");
        }
    }
}
