package org.kexecmeasured.uefi.unicorn;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.Cpu.Reg;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.RunResult;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CopyLoop}: the byte-copy loop of systemd-stub 252's memcpy (the bytes as {@code objdump -d} shows them in
 * Debian's {@code linuxx64.efi.stub} 252.39 at 0xa720) is recognized, and what the host does in its place leaves
 * memory and registers as the loop itself does. The oracle for memory is Java's arraycopy of the same bytes (and
 * for an overlapping copy, which stays in the engine, a byte loop); for registers, the loop's definition.
 */
class CopyLoopTest {

    /** memcpy(rdi, rsi, rdx) of systemd-stub 252, with hlt for its ret. */
    static final byte[] STUB_252_MEMCPY = bytes(
            0x48, 0x89, 0xf8,                   // mov rax, rdi
            0x48, 0x85, 0xd2,                   // test rdx, rdx
            0x74, 0x1a,                         // je +0x1a (the hlt)
            0x31, 0xc9,                         // xor ecx, ecx
            0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00, // nopw
            0x44, 0x0f, 0xb6, 0x04, 0x0e,       // 0x10: movzx r8d, byte [rsi+rcx]
            0x44, 0x88, 0x04, 0x08,             // mov [rax+rcx], r8b
            0x48, 0x83, 0xc1, 0x01,             // add rcx, 1
            0x48, 0x39, 0xd1,                   // cmp rcx, rdx
            0x75, 0xee,                         // jne 0x10
            0xf4);                              // 0x22: hlt
    static final long CODE = 0x10_0000;
    static final long HEAD = CODE + 0x10;
    static final long EXIT = CODE + 0x22;

    private UnicornCpu cpu;
    private GuestMemory mem;

    @BeforeEach
    void engine() {
        cpu = new UnicornCpu();
        cpu.map(0x1000, 32L << 20);
        mem = cpu.memory();
        mem.write(CODE, STUB_252_MEMCPY);
    }

    @AfterEach
    void close() {
        cpu.close();
    }

    @Test
    void theStubsLoopIsRecognizedAndOthersAreNot() {
        CopyLoop l = CopyLoop.match(HEAD, Arrays.copyOfRange(STUB_252_MEMCPY, 0x10, 0x10 + CopyLoop.MAX_LENGTH));
        assertNotNull(l);
        assertEquals(EXIT, l.exit());
        assertEquals(Reg.R8, CopyLoop.reg(l.t()));
        assertEquals(Reg.RSI, CopyLoop.reg(l.s()));
        assertEquals(Reg.RAX, CopyLoop.reg(l.d()));
        assertEquals(Reg.RCX, CopyLoop.reg(l.i()));
        assertEquals(Reg.RDX, CopyLoop.reg(l.n()));
        byte[] loop = Arrays.copyOfRange(STUB_252_MEMCPY, 0x10, 0x10 + CopyLoop.MAX_LENGTH);
        // movzx esp, byte [rsi+rcx]; mov [rax+rcx], ah — without REX register 4 is AH, not the byte loaded ...
        byte[] ah = Arrays.copyOf(bytes(0x0f, 0xb6, 0x24, 0x0e, 0x88, 0x24, 0x08, 0x48, 0x83, 0xc1, 0x01,
                0x48, 0x39, 0xd1, 0x75, 0xf0), CopyLoop.MAX_LENGTH);
        assertNull(CopyLoop.match(HEAD, ah));
        // ... with REX it is SPL, the byte loaded
        byte[] spl = Arrays.copyOf(bytes(0x40, 0x0f, 0xb6, 0x24, 0x0e, 0x40, 0x88, 0x24, 0x08, 0x48, 0x83, 0xc1, 0x01,
                0x48, 0x39, 0xd1, 0x75, 0xee), CopyLoop.MAX_LENGTH);
        assertNotNull(CopyLoop.match(HEAD, spl));
        // add rcx, 2
        assertNull(CopyLoop.match(HEAD, patch(loop, 9, 0x48, 0x83, 0xc1, 0x02)));
        // jne elsewhere
        assertNull(CopyLoop.match(HEAD, patch(loop, 16, 0x75, 0xef)));
        // the loaded byte goes to another register than the one stored
        assertNull(CopyLoop.match(HEAD, patch(loop, 5, 0x44, 0x88, 0x0c, 0x08)));
        // the store's index is not the load's
        assertNull(CopyLoop.match(HEAD, patch(loop, 5, 0x44, 0x88, 0x04, 0x10)));
    }

    @Test
    void theHostCopyLeavesMemoryAndRegistersAsTheLoopDoes() {
        byte[] src = new byte[(3 << 20) + 5];
        new Random(1).nextBytes(src);
        long s = 0x40_0123;
        long d = 0x90_0007;
        mem.write(s, src);
        for (int round = 0; round < 2; round++) { // the first call hooks the loop, the second starts hooked
            mem.fill(d, src.length, (byte) 0);
            run(d, s, src.length);
            assertArrayEquals(src, mem.read(d, src.length));
            assertEquals(0, mem.u8(d + src.length), "no byte after the copy");
            assertEquals(src.length, cpu.reg(Reg.RCX));
            assertEquals(src[src.length - 1] & 0xffL, cpu.reg(Reg.R8));
            assertEquals(0x44, cpu.reg(Reg.RFLAGS) & 0x8D5, "flags of cmp rcx, rdx with rcx = rdx");
        }
        assertTrue(cpu.loopCopies >= 2, "the host ran the copies: " + cpu.loopCopies);
    }

    @Test
    void aForwardCopyOntoItselfRepeatsAsTheByteLoopDoes() {
        // the engine runs the iterations while the rest of the source lies under the destination; once it no
        // longer does, the host may take the rest
        byte[] pattern = bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
        long s = 0x40_0000;
        mem.write(s, pattern);
        run(s + 3, s, 12); // dst inside the source, above it: the byte loop repeats 1, 2, 3
        byte[] want = pattern.clone();
        for (int k = 0; k < 12; k++) {
            want[3 + k] = want[k];
        }
        assertArrayEquals(want, mem.read(s, pattern.length));
        assertEquals(12, cpu.reg(Reg.RCX));
        assertEquals(want[11] & 0xffL, cpu.reg(Reg.R8));
    }

    @Test
    void deferredContentCopiedIntoDeferredZerosIsReadBackExactly() {
        byte[] section = new byte[(4 << 20) + 777];
        new Random(2).nextBytes(section);
        long s = 0x40_0000;
        mem.place(s, ByteBuffer.wrap(section).asReadOnlyBuffer()); // whole pages deferred, the last one RAM
        long d = 0xA0_0000;
        mem.zeroPages(d, 5L << 20);
        run(d, s, section.length);
        assertTrue(cpu.loopCopies >= 1);
        assertArrayEquals(section, mem.read(d, section.length));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        mem.readPieces(d, 5L << 20, p -> {
            byte[] b = new byte[p.remaining()];
            p.get(b);
            out.writeBytes(b);
        });
        byte[] want = Arrays.copyOf(section, 5 << 20);
        assertArrayEquals(want, out.toByteArray());
        // the guest reads the destination too (its pages become RAM on the access)
        assertEquals(section[0x20_0000] & 0xff, guestByte(d + 0x20_0000));
        assertEquals(section[section.length - 1] & 0xff, guestByte(d + section.length - 1));
        assertEquals(0, guestByte(d + section.length));
    }

    /**
     * The trap page is read-execute so that guest code cannot patch the service stubs (Machine): a copy loop whose
     * destination is there must fault in the engine as the loop itself does, not be done by the host's write, which
     * Unicorn does not check against the page's protection.
     */
    @Test
    void aCopyIntoReadExecuteMemoryFaultsAsTheLoopDoes() {
        long rx = 0x400_0000;
        byte[] stubs = new byte[0x1000];
        Arrays.fill(stubs, (byte) 0xF4);
        cpu.mapReadExecute(rx, stubs); // the host places the stubs as it maps them
        byte[] evil = new byte[64];
        new Random(3).nextBytes(evil);
        long s = 0x40_0000;
        mem.write(s, evil);
        run(0x80_0000, s, evil.length); // the loop is hooked now
        assertTrue(cpu.loopCopies >= 1, "the host ran the first copy: " + cpu.loopCopies);
        cpu.setReg(Reg.RDI, rx);
        cpu.setReg(Reg.RSI, s);
        cpu.setReg(Reg.RDX, evil.length);
        RunResult r = cpu.run(CODE, 60_000_000);
        assertTrue(r.end() != RunResult.End.HALTED, "the write to read-execute memory faulted: " + r);
        assertArrayEquals(stubs, mem.read(rx, stubs.length), "the stubs are unchanged");
    }

    private void run(long dst, long src, long len) {
        cpu.setReg(Reg.RDI, dst);
        cpu.setReg(Reg.RSI, src);
        cpu.setReg(Reg.RDX, len);
        RunResult r = cpu.run(CODE, 60_000_000);
        assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
        assertEquals(EXIT, r.rip());
    }

    /** movzx eax, byte [abs]; hlt — at 0x20_0000 */
    private long guestByte(long a) {
        ByteBuffer b = ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x48).put((byte) 0xB8).putLong(a);               // mov rax, a
        b.put((byte) 0x0F).put((byte) 0xB6).put((byte) 0x00);         // movzx eax, byte [rax]
        b.put((byte) 0xF4);
        mem.write(0x20_0000, Arrays.copyOf(b.array(), b.position()));
        RunResult r = cpu.run(0x20_0000, 10_000_000);
        assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
        return cpu.reg(Reg.RAX);
    }

    private static byte[] patch(byte[] loop, int at, int... v) {
        byte[] b = loop.clone();
        for (int k = 0; k < v.length; k++) {
            b[at + k] = (byte) v[k];
        }
        return b;
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int k = 0; k < v.length; k++) {
            b[k] = (byte) v[k];
        }
        return b;
    }
}
