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
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link UnicornCpu#place}: large content placed in guest RAM stays out of the engine until the guest touches it.
 * The oracle is the content itself (random bytes): whatever path a byte takes — the host reading an untouched
 * page, the guest reading or fetching a page the access materializes (across the 2 MiB chunk ends), writes by
 * the guest or the host into deferred pages — every reader sees exactly the placed bytes with the writes on top.
 */
class DeferredRamTest {

    /** RAM from 0x1000, 16 MiB; the content starts mid-page and spans the chunk ends at 2, 4 and 6 MiB. */
    static final long AT = 0x10_0800;
    static final int LEN = (5 << 20) + 123;
    static final long CODE = 0x80_0000;

    private UnicornCpu cpu;
    private GuestMemory mem;
    private byte[] content;

    @BeforeEach
    void placeContent() {
        cpu = new UnicornCpu();
        cpu.map(0x1000, 16L << 20);
        mem = cpu.memory();
        content = new byte[LEN];
        new Random(14).nextBytes(content);
        mem.write(AT - 16, new byte[16]); // bytes around the content are RAM the host wrote (zeros)
        mem.place(AT, ByteBuffer.wrap(content).asReadOnlyBuffer());
    }

    @AfterEach
    void close() {
        cpu.close();
    }

    @Test
    void theHostReadsUntouchedPagesFromTheContent() {
        assertArrayEquals(content, mem.read(AT, LEN));
        assertArrayEquals(around(16), mem.read(AT - 16, 16 + LEN + 16));
        assertArrayEquals(content, pieces(AT, LEN));
        assertArrayEquals(Arrays.copyOfRange(content, 0x2f_f000, 0x30_1000), mem.read(AT + 0x2f_f000, 0x2000));
    }

    @Test
    void theGuestReadsThePlacedBytesAcrossChunkEnds() {
        for (long a : new long[]{AT, AT + 0x800 - 4, 0x20_0000 - 4, 0x40_0000 - 3, 0x60_0000 - 1 - 4, AT + LEN - 8}) {
            assertEquals(le64(content, (int) (a - AT)), guestLoad(a), "8-byte load at 0x" + Long.toHexString(a));
        }
        // the host still reads the same bytes, materialized chunks and deferred ones alike
        assertArrayEquals(content, mem.read(AT, LEN));
        assertArrayEquals(content, pieces(AT, LEN));
    }

    @Test
    void guestAndHostWritesIntoDeferredPagesLandAndNothingElseChanges() {
        long g = 0x40_0000 - 4; // spans a chunk end
        guestStore(g, 0x1122334455667788L);
        long h = AT + 0x10_0000 + 7;
        byte[] hostBytes = new byte[300];
        Arrays.fill(hostBytes, (byte) 0xA5);
        mem.write(h, hostBytes);
        byte[] want = content.clone();
        ByteBuffer.wrap(want).order(ByteOrder.LITTLE_ENDIAN).putLong((int) (g - AT), 0x1122334455667788L);
        System.arraycopy(hostBytes, 0, want, (int) (h - AT), hostBytes.length);
        assertArrayEquals(want, mem.read(AT, LEN));
        assertArrayEquals(want, pieces(AT, LEN));
        assertEquals(0x1122334455667788L, guestLoad(g));
        assertEquals(le64(want, (int) (h - 3 - AT)), guestLoad(h - 3));
    }

    @Test
    void codeInDeferredPagesRuns() {
        byte[] image = new byte[2 << 20];
        int entry = 0x12_3456;
        System.arraycopy(new byte[]{(byte) 0xB8, 0x33, 0, 0, 0, (byte) 0xF4}, 0, image, entry, 6); // mov eax,0x33; hlt
        long base = 0xA0_0000;
        mem.place(base, ByteBuffer.wrap(image).asReadOnlyBuffer());
        assertEquals(0x33, run(base + entry));
    }

    @Test
    void placingOverDeferredPagesReplacesThem() {
        byte[] other = new byte[3 << 20];
        new Random(11).nextBytes(other);
        long at = AT + 0x12_3000;
        guestLoad(0x20_0000); // one chunk is RAM now, the others are still deferred
        mem.place(at, ByteBuffer.wrap(other).asReadOnlyBuffer());
        byte[] want = content.clone();
        System.arraycopy(other, 0, want, (int) (at - AT), other.length);
        assertArrayEquals(want, mem.read(AT, LEN));
        assertEquals(le64(want, (int) (0x30_0000 - AT)), guestLoad(0x30_0000));
        assertEquals(le64(want, (int) (0x50_0000 - AT)), guestLoad(0x50_0000));
    }

    /**
     * {@link GuestMemory#placedContent}: untouched deferred pages are the placed bytes themselves (the view shares
     * the content's memory: nothing copied; here a direct buffer, as a mapped payload is); once the guest or the
     * host writes into the range it is no view any more, and {@code snapshot} then copies what guest memory holds,
     * the write included. A snapshot taken before the write keeps the bytes of its moment. The content's last
     * partial page is RAM: a range into it is a view only while it holds the placed bytes.
     */
    @Test
    void placedContentIsAViewOnlyWhileTheGuestHasNotTouchedTheRange() {
        long at = 0xA0_0800;
        int n = (5 << 20) + 123;
        ByteBuffer direct = ByteBuffer.allocateDirect(n).put(0, content, 0, n);
        mem.place(at, direct.asReadOnlyBuffer());
        long page = (at + 0xfff) & ~0xfffL; // the content's first whole page: deferred from there on
        int len = 3 << 20;
        ByteBuffer view = mem.placedContent(page, len);
        assertTrue(view != null && view.isReadOnly(), "an untouched range of deferred content is a view");
        assertTrue(org.kexecmeasured.util.ByteViews.sameMemory(view, direct.slice((int) (page - at), len)),
                "the view is the placed buffer's memory, not a copy");
        assertEquals(ByteBuffer.wrap(content, (int) (page - at), len), view, "the view holds the placed bytes");
        // the partial first page was written at once (RAM): compared, so a view while it holds the placed bytes
        assertEquals(ByteBuffer.wrap(content, 0, len), mem.placedContent(at, len));
        mem.write(at + 5, new byte[]{(byte) ~content[5]});
        assertEquals(null, mem.placedContent(at, len), "its first page changed: no view");
        assertEquals(null, mem.placedContent(at - 8, len), "a range starting before the content: no view");
        assertEquals(null, mem.placedContent(page, n), "past the content's end: no view");
        // up to the content's end: its last partial page is RAM, compared with the content (a whole section)
        int toEnd = (int) (at + n - page);
        assertEquals(ByteBuffer.wrap(content, (int) (page - at), toEnd), mem.placedContent(page, toEnd));
        mem.write(at + n - 1, new byte[]{(byte) ~content[n - 1]}); // its last byte changed (a host write)
        assertEquals(null, mem.placedContent(page, toEnd), "the changed last page is no view");
        mem.write(at + n - 1, new byte[]{content[n - 1]}); // the placed byte again
        assertEquals(ByteBuffer.wrap(content, (int) (page - at), toEnd), mem.placedContent(page, toEnd),
                "the placed bytes there again: a view again");

        assertEquals(le64(content, (int) (page + 0x18_0000 - at)), guestLoad(page + 0x18_0000));
        assertTrue(mem.placedContent(page, len) != null, "a range the guest only read (its chunk now RAM) is a view");
        ByteBuffer before = mem.bytes(page, len).snapshot();
        guestStore(page + 0x18_0000, 0x0102030405060708L); // the guest changes one word in the middle
        assertEquals(null, mem.placedContent(page, len), "a range the guest wrote to is no view");
        byte[] want = Arrays.copyOfRange(content, (int) (page - at), (int) (page - at) + len);
        ByteBuffer.wrap(want).order(ByteOrder.LITTLE_ENDIAN).putLong(0x18_0000, 0x0102030405060708L);
        assertEquals(ByteBuffer.wrap(want), mem.bytes(page, len).snapshot(),
                "the snapshot after the write is guest memory's, the write included");
        assertEquals(ByteBuffer.wrap(content, (int) (page - at), len), before, "the earlier snapshot keeps its bytes");
        // the store materialized its 2 MiB chunk only: a page of the next chunk is still a view of the content
        long next = (page + 0x18_0000 + (2 << 20)) & -(2L << 20);
        assertEquals(ByteBuffer.wrap(content, (int) (next - at), 0x1000), mem.placedContent(next, 0x1000));
    }

    @Test
    void smallContentIsWrittenAtOnce() {
        byte[] small = new byte[(int) UnicornCpu.DEFER_AT_LEAST - 1];
        new Random(3).nextBytes(small);
        mem.place(0xC0_0000, ByteBuffer.wrap(small));
        assertArrayEquals(small, mem.read(0xC0_0000, small.length));
        assertEquals(le64(small, 0x8_0000), guestLoad(0xC0_0000 + 0x8_0000));
    }

    /** The content with {@code n} zeros on either side. */
    private byte[] around(int n) {
        byte[] b = new byte[n + LEN + n];
        System.arraycopy(content, 0, b, n, LEN);
        return b;
    }

    private byte[] pieces(long address, long len) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        mem.readPieces(address, len, p -> {
            assertTrue(p.remaining() <= GuestMemory.PIECE);
            byte[] b = new byte[p.remaining()];
            p.get(b);
            out.writeBytes(b);
        });
        return out.toByteArray();
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
