package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.uefi.spi.MemoryType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Acceptance: Debian's vmlinuz started directly with full emulation reaches ExitBootServices and jumps to
 * the decompressed kernel; boot_params (x86 zero page, Documentation/arch/x86/zero-page.rst) carries our
 * cmdline, initrd and an e820 table built from the emulator's memory map. ~45-60 s of emulation: slow.
 */
@Tag("full-emulation")
class FullEmulationTest {

    @TempDir
    Path dir;

    private static byte[] read(PostEbsState s, long addr, int len) {
        for (PostEbsState.Segment g : s.segments()) {
            if (addr >= g.start() && addr + len <= g.start() + g.data().length) {
                return Arrays.copyOfRange(g.data(), (int) (addr - g.start()), (int) (addr - g.start() + len));
            }
        }
        throw new AssertionError("0x" + Long.toHexString(addr) + "+" + len + " is in no allocated segment");
    }

    @Test
    void kernelStubRunsToTheJumpAfterExitBootServices() throws Exception {
        Path uki = TestPayloads.makeUki(dir.resolve("uki"));
        byte[] initrd = Files.readAllBytes(uki.resolve("initrd.cpio"));
        String cmdline = "console=ttyS0 root=/dev/vda ro";
        EmulationResult r = Emulator.run(Files.readAllBytes(uki.resolve("vmlinuz")), EmulatorOptions.builder()
                .fullEmulation(true).initrd(initrd).append(cmdline).payloadName("vmlinuz").timeBudgetMillis(300_000).build());
        PostEbsState s = r.postEbs();
        assertNotNull(s, "post-ExitBootServices state");
        assertTrue(r.trace().stream().anyMatch(t -> t.service().equals("ExitBootServices") && t.status() == 0));

        // entry: the start of the kernel's 64 MiB AllocateAddress LoaderCode block
        assertTrue(s.segments().stream().anyMatch(g -> g.start() == s.entry() && g.type() == MemoryType.LoaderCode
                && g.data().length == 64 << 20), "entry 0x" + Long.toHexString(s.entry()));
        assertEquals(0x80010033L, s.registers().get("CR0"));

        ByteBuffer bp = ByteBuffer.wrap(read(s, s.bootParams(), 4096)).order(ByteOrder.LITTLE_ENDIAN);
        long cmdPtr = (bp.getInt(0x228) & 0xffffffffL) | (long) bp.getInt(0x0c8) << 32;
        byte[] cmd = read(s, cmdPtr, cmdline.length() + 1);
        assertEquals(cmdline + "\0", new String(cmd, StandardCharsets.US_ASCII), "cmd_line_ptr");
        long rdImage = (bp.getInt(0x218) & 0xffffffffL) | (long) bp.getInt(0x0c0) << 32;
        long rdSize = (bp.getInt(0x21c) & 0xffffffffL) | (long) bp.getInt(0x0c4) << 32;
        assertEquals(initrd.length, rdSize, "ramdisk_size");
        assertArrayEquals(initrd, read(s, rdImage, initrd.length), "ramdisk_image");
        assertEquals("EL64", new String(read(s, s.bootParams() + 0x1c0, 4), StandardCharsets.US_ASCII));

        // e820 from our map: page 0 reserved, the ACPI-reclaim memory map pool as type 3, RAM up to 1 GiB
        int n = bp.get(0x1e8) & 0xff;
        assertTrue(n >= 3, "e820 entries: " + n);
        long end = 0;
        boolean acpi = false;
        MemoryMap.Region pool = s.memoryMap().stream().filter(x -> x.type() == MemoryType.ACPIReclaimMemory)
                .findFirst().orElseThrow();
        for (int i = 0; i < n; i++) {
            long a = bp.getLong(0x2d0 + 20 * i);
            long size = bp.getLong(0x2d0 + 20 * i + 8);
            int type = bp.getInt(0x2d0 + 20 * i + 16);
            if (i == 0) {
                assertEquals(0, a);
                assertEquals(0x1000, size);
                assertEquals(2, type, "page 0 reserved");
            }
            if (type == 3) {
                acpi = a == pool.start() && size == pool.end() - pool.start();
            }
            assertEquals(end, a, "e820 entries are contiguous");
            end = a + size;
        }
        assertTrue(acpi, "the ACPI-reclaim pool appears as e820 type 3");
        assertEquals(1L << 30, end, "e820 covers the emulated RAM");

        // the stub's own PCR 9 events: LoadOptions tag, then the initrd
        List<RecordingMeasurer.Measurement> pcr9 = r.measurements().stream().filter(m -> m.pcr() == 9).toList();
        assertEquals(2, pcr9.size());
        assertArrayEquals(initrd, pcr9.get(1).dataToHash());
        assertTrue(r.console().contains("Measured initrd data into PCR 9"), r.console());
    }
}
