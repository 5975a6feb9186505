package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.util.BadInputException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Resume images (segments from the captured ranges, purgatory placement, the 16-segment limit) and the host RAM layout. */
class ResumeImageTest {

    @TempDir
    Path dir;

    static PostEbsState.Segment seg(long start, int pages, int fill) {
        byte[] d = new byte[pages * 4096];
        java.util.Arrays.fill(d, (byte) fill);
        return new PostEbsState.Segment(start, MemoryType.LoaderData, d);
    }

    static PostEbsState state(List<PostEbsState.Segment> segs) {
        return new PostEbsState(PostEbsState.Point.EXIT_BOOT_SERVICES_RETURN, 0x200000, 0, Map.of("CS", 0x38L, "DS", 0x30L, "RSP", 0x3fff_0000L), segs, List.of());
    }

    @Test
    void closeRangesBecomeOneSegmentWithZerosBetweenAndThePurgatoryGoesHighClearOfThem() {
        List<RamRange> ram = List.of(new RamRange(0x100000, 0x4000_0000L));
        ResumeImage img = ResumeImage.of(state(List.of(seg(0x200000, 2, 0xAA), seg(0x204000, 1, 0xBB),
                seg(0x3f00_0000L, 4096, 0xCC))), ram);
        assertEquals(3, img.segments().size(), "two merged, one apart, the purgatory");
        KexecSegment low = img.segments().get(0);
        assertEquals(0x200000, low.mem());
        assertEquals(0x5000, low.memsz());
        assertEquals((byte) 0xAA, low.buf()[0x1fff]);
        assertEquals(0, low.buf()[0x2000], "the hole is zeros");
        assertEquals((byte) 0xBB, low.buf()[0x4000]);
        // the top 16 MiB is taken: the purgatory sits right below it, inside RAM
        assertEquals(0x3f00_0000L - Purgatory.SIZE, img.entry());
        assertTrue(img.segments().stream().anyMatch(s -> s.mem() == img.entry() && s.memsz() == Purgatory.SIZE));
    }

    @Test
    void moreThanSixteenSegmentsAreRefused() {
        List<PostEbsState.Segment> many = new ArrayList<>();
        for (int i = 0; i < 16; i++) many.add(seg(0x1000_0000L + i * 0x400_0000L, 1, i));
        BadInputException e = assertThrows(BadInputException.class,
                () -> ResumeImage.of(state(many), List.of(new RamRange(0x100000, 0x7000_0000L))));
        assertTrue(e.getMessage().contains("at most 16 segments"), e.getMessage());
    }

    @Test
    void hostRamIsSystemRamBelowTheTrapPageMinusTheCrashKernel() throws Exception {
        // a QEMU q35 guest with 3 GiB and crashkernel=256M, as its /sys/firmware/memmap and /proc/iomem show it
        String[][] map = {{"0x0", "0x9fbff", "System RAM"}, {"0x9fc00", "0x9ffff", "Reserved"},
                {"0x100000", "0x7fdfffff", "System RAM"}, {"0x7fe00000", "0x7fe0ffff", "ACPI Non-volatile Storage"},
                {"0x7fe10000", "0x7ff0ffff", "System RAM"}, {"0xb0000000", "0xbfffffff", "Reserved"},
                {"0x100000000", "0x13fffffff", "System RAM"}};
        for (int i = 0; i < map.length; i++) {
            Path e = Files.createDirectories(dir.resolve("sys/firmware/memmap/" + i));
            Files.writeString(e.resolve("start"), map[i][0] + "\n");
            Files.writeString(e.resolve("end"), map[i][1] + "\n");
            Files.writeString(e.resolve("type"), map[i][2] + "\n");
        }
        Files.createDirectories(dir.resolve("proc"));
        Files.writeString(dir.resolve("proc/iomem"), """
                00000000-00000fff : Reserved
                00100000-7fdfffff : System RAM
                  2d000000-3cffffff : Crash kernel
                b0000000-bfffffff : Reserved
                """);
        // the 1 MiB of RAM between OVMF's areas near the top is left out: the firmware area goes below it; of the
        // 3 GiB - 2 MiB a quarter, rounded down to MiB (767 MiB), is emulated: the highest part, inside the second range
        assertEquals(List.of(new RamRange(0, 0x9f000), new RamRange(0x4ff0_0000L, 0x7fe0_0000L)), HostMemory.read(dir),
                "the RAM below 1 MiB, then the highest part");
        assertEquals(List.of(new RamRange(0x100000, 0x2d00_0000L), new RamRange(0x3d00_0000L, 0x7fe0_0000L)),
                HostMemory.highest(List.of(new RamRange(0x100000, 0x2d00_0000L), new RamRange(0x3d00_0000L, 0x7fe0_0000L)),
                        1L << 40), "a budget above the RAM keeps all of it");
        assertEquals(List.of(new RamRange(0x2c00_0000L, 0x2d00_0000L), new RamRange(0x3d00_0000L, 0x7fe0_0000L)),
                HostMemory.highest(List.of(new RamRange(0x100000, 0x2d00_0000L), new RamRange(0x3d00_0000L, 0x7fe0_0000L)),
                        0x42e0_0000L + (16L << 20)), "the lowest range kept is trimmed from below");
        Files.writeString(dir.resolve("proc/iomem"), "00000000-00000000 : Crash kernel\n");
        assertThrows(BadInputException.class, () -> HostMemory.read(dir), "addresses hidden from non-root");
    }

    @Test
    void aBadInclusiveEndIsBadInput() throws Exception {
        Path e = Files.createDirectories(dir.resolve("sys/firmware/memmap/0"));
        Files.writeString(e.resolve("start"), "0x100000\n");
        Files.writeString(e.resolve("end"), "zz\n");
        Files.writeString(e.resolve("type"), "System RAM\n");
        BadInputException x = assertThrows(BadInputException.class, () -> HostMemory.read(dir));
        assertTrue(x.getMessage().contains("not a hexadecimal address"), x.getMessage());
    }
}
