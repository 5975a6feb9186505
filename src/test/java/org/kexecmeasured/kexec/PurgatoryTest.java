package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.RunResult;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The resume purgatory: its bytes are what GNU as makes of its source (binutils is the oracle), it runs on a real
 * x86_64 CPU model (Unicorn/QEMU TCG) from the state the kernel's relocate code leaves to the captured RIP with every
 * captured register, and its page tables translate every address to itself (walked here as the MMU would, 4- and
 * 5-level).
 */
class PurgatoryTest {

    @TempDir
    Path dir;

    static final long BASE = 0x3000_0000L;

    static String run(Path cwd, String pkg, String... cmd) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError(cmd[0] + " is missing: install the Debian package " + pkg + " (tests/bin/install-deps)", e);
        }
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd[0] + " timed out");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    @Test
    void theBytesAreWhatTheAssemblerMakesOfTheSource() throws Exception {
        Path src = dir.resolve("purgatory-x86_64.S");
        try (var in = Purgatory.class.getResourceAsStream("purgatory-x86_64.S")) {
            Files.write(src, in.readAllBytes());
        }
        run(dir, "binutils", "as", "--64", "-o", "p.o", src.toString());
        run(dir, "binutils", "objcopy", "-O", "binary", "-j", ".text", "p.o", "p.bin");
        byte[] assembled = Files.readAllBytes(dir.resolve("p.bin"));
        assertEquals(0x240, assembled.length, "code page layout: code, parameters at 0x100, GDT 0x200-0x240");
        byte[] page = Purgatory.build(BASE, 0x1234000, Map.of("CS", 0x38L, "DS", 0x30L));
        // the code (before the parameter block) byte for byte; the parameter block and GDT are ours to fill
        assertArrayEquals(Arrays.copyOf(assembled, 0x100), Arrays.copyOf(page, 0x100));
        // the layout constants agree with the symbols of the source (nm is the oracle)
        String nm = run(dir, "binutils", "nm", "p.o");
        Map<String, Integer> sym = new LinkedHashMap<>();
        for (String l : nm.split("\n")) {
            String[] f = l.trim().split("\\s+");
            if (f.length == 3) sym.put(f[2], Integer.parseInt(f[0], 16));
        }
        assertEquals(Purgatory.OFF_GDT_DESC, sym.get("gdt_desc"));
        assertEquals(Purgatory.OFF_STACK, sym.get("p_stack"));
        assertEquals(Purgatory.OFF_CR3, sym.get("p_cr3"));
        assertEquals(Purgatory.OFF_CR0, sym.get("p_cr0"));
        assertEquals(Purgatory.OFF_CR4, sym.get("p_cr4"));
        assertEquals(Purgatory.OFF_CS, sym.get("p_cs"));
        assertEquals(Purgatory.OFF_DS, sym.get("p_ds"));
        assertEquals(Purgatory.OFF_RFLAGS, sym.get("p_rflags"));
        assertEquals(Purgatory.OFF_RIP, sym.get("p_rip"));
        assertEquals(Purgatory.OFF_CR3_LA57, sym.get("p_cr3_la57"));
        assertEquals(Purgatory.OFF_GDT, sym.get("gdt"));
        for (int i = 0; i < Purgatory.GPRS.length; i++) {
            assertEquals(Purgatory.OFF_GPRS + 8 * i, sym.get("p_" + Purgatory.GPRS[i].toLowerCase()), Purgatory.GPRS[i]);
        }
    }

    @Test
    void itRestoresEveryRegisterAndJumpsToTheCapturedRip() {
        long rip = 0x0100_0000L;
        Map<String, Long> regs = new LinkedHashMap<>();
        long v = 0x1111_0000_0000_0001L;
        for (String r : Purgatory.GPRS) {
            regs.put(r, v);
            v += 0x0101_0101_0101_0101L;
        }
        regs.put("RSP", 0x0200_0ff8L);
        regs.put("RFLAGS", 0x246L); // ZF, PF, IF (0x200): IF must not come back
        regs.put("CR0", 0x80010033L);
        regs.put("CR4", 0x620L);
        regs.put("CS", 0x38L);
        regs.put("DS", 0x30L);
        byte[] seg = Purgatory.build(BASE, rip, regs);
        try (UnicornCpu cpu = new UnicornCpu()) {
            cpu.map(0x0100_0000L, 0x0200_0000L);
            cpu.map(BASE, Purgatory.SIZE);
            cpu.memory().write(BASE, seg);
            cpu.memory().write(rip, new byte[]{(byte) 0xF4}); // hlt where the payload would go on
            // as relocate_kernel leaves it: 64-bit mode, paging on (CR0.PG|PE, CR4.PAE), a GDTR that means nothing here
            cpu.setReg(Cpu.Reg.CR4, 0x20);
            cpu.setGdtr(0xdead_0000L, 0);
            Map<String, Long> at = new LinkedHashMap<>();
            cpu.addCodeHook(rip, a -> {
                for (Cpu.Reg r : Cpu.Reg.values()) at.put(r.name(), cpu.reg(r));
                cpu.stop();
            });
            RunResult end = cpu.run(BASE, 10_000_000);
            assertTrue(at.containsKey("RIP"), "the purgatory did not reach the captured RIP: " + end);
            for (String r : Purgatory.GPRS) {
                assertEquals(regs.get(r), at.get(r), r);
            }
            assertEquals(rip, at.get("RIP"));
            assertEquals(0x046L, at.get("RFLAGS") & 0xFFF, "RFLAGS restored with IF clear");
            assertEquals(0x38L, at.get("CS"));
            for (String s : List.of("DS", "ES", "SS", "FS", "GS")) assertEquals(0x30L, at.get(s), s);
            assertEquals(BASE + Purgatory.PML4, at.get("CR3"), "CR3 = the purgatory's identity map (4-level)");
            assertEquals(0x620L, at.get("CR4") & 0x620L, "PAE, OSFXSR, OSXMMEXCPT");
            assertEquals(0x10032L, at.get("CR0") & 0x10032L, "MP, NE, WP set again");
        }
    }

    @Test
    void itsPageTablesMapEveryAddressBelow4GiBToItselfWithFourAndFiveLevels() {
        ByteBuffer b = ByteBuffer.wrap(Purgatory.build(BASE, 0, Map.of("CS", 0x38L, "DS", 0x30L))).order(ByteOrder.LITTLE_ENDIAN);
        long[] probes = {0, 0x1000, 0x1234_5678L, BASE, BASE + Purgatory.SIZE - 1, 0xFEE0_0000L, 0xFFFF_FFFFL};
        for (long va : probes) {
            assertEquals(va, walk(b, BASE + Purgatory.PML4, va, 4), "4-level 0x" + Long.toHexString(va));
            assertEquals(va, walk(b, BASE + Purgatory.PML5, va, 5), "5-level 0x" + Long.toHexString(va));
        }
        assertThrows(IllegalStateException.class, () -> walk(b, BASE + Purgatory.PML4, 1L << 32, 4), "nothing above 4 GiB");
    }

    /** An x86_64 page walk over the segment (entries must be present; a PS entry in a PD ends it at 2 MiB). */
    private static long walk(ByteBuffer seg, long table, long va, int levels) {
        int shift = levels == 5 ? 48 : 39;
        for (int level = levels; level >= 2; level--, shift -= 9) {
            int index = (int) ((va >>> shift) & 0x1FF);
            long off = table - BASE + 8L * index;
            long e = seg.getLong((int) off);
            if ((e & 1) == 0) throw new IllegalStateException("not present at level " + level);
            long next = e & 0x000F_FFFF_FFFF_F000L;
            if (level == 2) {
                if ((e & 0x80) == 0) throw new IllegalStateException("a PD entry without PS");
                return (e & 0x000F_FFFF_FFE0_0000L) | (va & 0x1F_FFFFL);
            }
            table = next;
        }
        throw new IllegalStateException("no leaf");
    }

    @Test
    void selectorsOutsideItsGdtAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Purgatory.build(BASE, 0, Map.of("CS", 0x48L, "DS", 0x30L)));
        assertThrows(IllegalArgumentException.class, () -> Purgatory.build(BASE, 0, Map.of("CS", 0x38L, "DS", 0x38L)));
        assertThrows(IllegalArgumentException.class, () -> Purgatory.build(0xFFFF_F000L, 0, Map.of("CS", 0x38L, "DS", 0x30L)));
    }
}
