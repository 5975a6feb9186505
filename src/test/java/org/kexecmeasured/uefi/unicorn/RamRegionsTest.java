package org.kexecmeasured.uefi.unicorn;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.RunResult;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link UnicornCpu#map} gives guest RAM to the engine in {@link UnicornCpu#MAP_PIECE} regions, each on its part of
 * one host mapping: the guest and the host must see one contiguous RAM across the region ends. The oracle is a
 * pattern the host writes (every 8-byte word holds its own guest address, so a region mapped at the wrong host
 * offset shows the wrong word) and random content placed across an end; accesses straddle the ends byte-wise.
 */
class RamRegionsTest {

    /** RAM from 0x1000 over three region ends (32, 64 and 96 MiB). */
    static final long RAM = 0x1000;
    static final long SIZE = (100L << 20) - RAM;
    static final long END1 = UnicornCpu.MAP_PIECE;
    static final long END2 = 2 * UnicornCpu.MAP_PIECE;
    static final long CODE = 0x10_0000;

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

    @Test
    void ramSpansSeveralEngineRegions() {
        // the test is about region ends: RAM must reach past at least two of them
        assertTrue(RAM + SIZE > 3 * UnicornCpu.MAP_PIECE, "MAP_PIECE " + UnicornCpu.MAP_PIECE);
    }

    @Test
    void theGuestReadsAndWritesAcrossRegionEnds() {
        for (long end : new long[]{END1, END2, 3 * UnicornCpu.MAP_PIECE}) {
            byte[] words = pattern(end - 64, 128);
            mem.write(end - 64, words);
            for (long a = end - 12; a <= end + 4; a += 4) { // aligned and straddling 8-byte loads
                assertEquals(le64(words, (int) (a - (end - 64))), guestLoad(a), "load at 0x" + Long.toHexString(a));
            }
            guestStore(end - 3, 0x0102030405060708L);
            byte[] want = words.clone();
            ByteBuffer.wrap(want).order(ByteOrder.LITTLE_ENDIAN).putLong(61, 0x0102030405060708L);
            assertArrayEquals(want, mem.read(end - 64, 128), "host read across 0x" + Long.toHexString(end));
        }
    }

    /** Host writes and reads of many MiB across an end land where the guest finds them, word by word. */
    @Test
    void largeHostTransfersCrossRegionEnds() {
        long from = END1 - (3 << 20) - 8;
        byte[] words = pattern(from, 6 << 20);
        mem.write(from, words);
        assertArrayEquals(words, mem.read(from, words.length));
        for (long a : new long[]{from, END1 - 8, END1, END1 + (1 << 20) + 8, from + words.length - 8}) {
            assertEquals(a, guestLoad(a), "word at 0x" + Long.toHexString(a));
        }
    }

    /** Deferred content over a region end: the host's view, the guest's loads on both sides, and a deferral's removal. */
    @Test
    void contentPlacedAcrossARegionEndIsReadEverywhere() {
        byte[] content = new byte[(5 << 20) + 321];
        new Random(32).nextBytes(content);
        long at = END2 - (2 << 20) - 0x800;
        mem.place(at, ByteBuffer.wrap(content).asReadOnlyBuffer());
        assertArrayEquals(content, mem.read(at, content.length));
        for (long a : new long[]{at, END2 - 8, END2 - 4, END2, at + content.length - 8}) {
            assertEquals(le64(content, (int) (a - at)), guestLoad(a), "load at 0x" + Long.toHexString(a));
        }
        assertArrayEquals(content, mem.read(at, content.length));
        // RAM next to the deferred range, on the other region, is untouched RAM (zeros) the guest can use
        guestStore(at + content.length + 0x1000, 77);
        assertEquals(77, guestLoad(at + content.length + 0x1000));
    }

    /**
     * {@code placedContent} compares the RAM parts of a placement (its partial first and last pages, the chunks the
     * guest touched) in place, on the host memory behind the engine, across a region end. One changed byte
     * anywhere — the first, the last, either side of the end, the middle of a touched chunk — is no view; the same
     * byte back is a view again. Oracle: the JDK's comparison of what the host reads there with the content. Both
     * a direct buffer (a mapped payload: compared with {@code memcmp}) and a heap array (the Java comparison).
     */
    @Test
    void placedContentComparesTouchedRamAcrossARegionEnd() {
        byte[] content = new byte[(5 << 20) + 321]; // not a multiple of 8, nor of a page
        new Random(33).nextBytes(content);
        ByteBuffer direct = ByteBuffer.allocateDirect(content.length).put(0, content);
        long[] places = {END2 - (2 << 20) - 0x7fd, END1 - (1 << 20) + 0x123};
        ByteBuffer[] buffers = {direct.asReadOnlyBuffer(), ByteBuffer.wrap(content)}; // (a read-only heap view hides its array: never a view)
        for (int k = 0; k < 2; k++) {
            long at = places[k];
            long end = k == 0 ? END2 : END1;
            mem.place(at, buffers[k]);
            assertEquals(le64(content, (int) (end - 8 - at)), guestLoad(end - 8)); // the chunk(s) around it: RAM now
            assertEquals(le64(content, (int) (end - at)), guestLoad(end));
            long len = content.length;
            assertEquals(ByteBuffer.wrap(content), mem.placedContent(at, len), "touched but unchanged: a view");
            for (long flip : new long[]{at, at + 1, end - 1, end, end - 0x1234, end + 0x5679, at + len - 1}) {
                int i = (int) (flip - at);
                long from = Math.max(at, flip - 5); // a short range around it, inside the content
                int n = (int) (Math.min(at + len, flip + 8) - from);
                mem.write(flip, new byte[]{(byte) ~content[i]});
                ByteBuffer v = mem.placedContent(at, len);
                boolean same = ByteBuffer.wrap(mem.read(at, (int) len)).equals(ByteBuffer.wrap(content));
                assertEquals(same, v != null, "byte at 0x" + Long.toHexString(flip) + " changed");
                assertEquals(null, v, "byte at 0x" + Long.toHexString(flip) + " changed: no view");
                assertEquals(null, mem.placedContent(from, n), "a short range around the change");
                mem.write(flip, new byte[]{content[i]});
                assertEquals(ByteBuffer.wrap(content), mem.placedContent(at, len),
                        "byte at 0x" + Long.toHexString(flip) + " back: a view again");
                assertEquals(ByteBuffer.wrap(content, (int) (from - at), n), mem.placedContent(from, n));
            }
        }
    }

    /** An instruction whose bytes straddle a region end runs (a translated block crosses the end). */
    @Test
    void codeRunsAcrossARegionEnd() {
        long start = END1 - 3; // mov eax, 0x5a5a5a5a (5 bytes: 2 before the end, 3 after); hlt
        mem.write(start, new byte[]{(byte) 0xB8, 0x5a, 0x5a, 0x5a, 0x5a, (byte) 0xF4});
        RunResult r = cpu.run(start, 10_000_000);
        assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
        assertEquals(0x5a5a5a5aL, cpu.reg(Cpu.Reg.RAX));
    }

    /** {@code len} bytes from {@code from} (8-aligned) in which each 8-byte word holds its guest address. */
    private static byte[] pattern(long from, int len) {
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < len; i += 8) {
            b.putLong(i, from + i);
        }
        return b.array();
    }

    /** movabs rax, [a]; hlt */
    private long guestLoad(long a) {
        mem.write(CODE, concat(new byte[]{0x48, (byte) 0xA1}, imm64(a), new byte[]{(byte) 0xF4}));
        return run(CODE);
    }

    /** movabs rax, v; movabs [a], rax; hlt */
    private void guestStore(long a, long v) {
        mem.write(CODE, concat(new byte[]{0x48, (byte) 0xB8}, imm64(v), new byte[]{0x48, (byte) 0xA3}, imm64(a),
                new byte[]{(byte) 0xF4}));
        run(CODE);
    }

    private long run(long rip) {
        RunResult r = cpu.run(rip, 10_000_000);
        assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
        return cpu.reg(Cpu.Reg.RAX);
    }

    private static long le64(byte[] b, int off) {
        return ByteBuffer.wrap(b, off, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static byte[] imm64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
