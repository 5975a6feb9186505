package org.kexecmeasured.kexec;

import org.kexecmeasured.util.Hex;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

/**
 * The resume purgatory (x86_64): what {@code kexec_load}'s entry point runs after the kernel copied the segments.
 * It restores the CPU state the emulator captured where the payload's ExitBootServices returned (GDT and
 * selectors, an identity map as CR3, the FPU/SSE bits of CR0/CR4, RFLAGS, every general register, RSP) and jumps
 * to the captured RIP. Its source is {@code purgatory-x86_64.S} beside this class's resources; the header there
 * says what the kernel's relocate code leaves and why each step is needed.
 *
 * <p>Why a byte array and not an assembler run by the build: the Debian package and CI build on machines where
 * binutils' {@code as} may be absent or for another architecture; the array is the assembled {@code .text} of
 * that source and {@code PurgatoryTest} assembles the source with {@code as}/{@code objcopy} and compares, so the
 * two cannot drift apart.
 *
 * <p>One segment of {@link #SIZE} bytes at a page-aligned base below 4 GiB: the code page (code, parameter block
 * at 0x100, GDT at 0x200), a PML5 (used only under CR4.LA57), the PML4, the PDPT, four page directories mapping
 * 0-4 GiB in 2 MiB pages, and a one-page stack.
 */
public final class Purgatory {

    /** The assembled .text up to the parameter block (the rest of the first 0x100 bytes is zero). */
    static final byte[] CODE = Hex.parse("fafc0f0115f7000000488b25000100000f20e0480fbae00c488b05f90000007307488b05a80100000f22d80f20e0480b05f30000000f22e00f20c0480b05de0000000f22c0ff35e5000000488d05030000005048cb488b05dc0000008ed88ec08ed08ee08ee8ff35d40000009d488b05dc000000488b1ddd000000488b0dde000000488b15df000000488b35e0000000488b3de1000000488b2de20000004c8b05eb0000004c8b0dec0000004c8b15ed0000004c8b1dee0000004c8b25ef0000004c8b2df00000004c8b35f10000004c8b3df2000000488b25ab000000ff2565");

    public static final long SIZE = 0x9000;
    static final int OFF_GDT_DESC = 0x100, OFF_STACK = 0x110, OFF_CR3 = 0x118, OFF_CR0 = 0x120, OFF_CR4 = 0x128,
            OFF_CS = 0x130, OFF_DS = 0x138, OFF_RFLAGS = 0x140, OFF_RIP = 0x148, OFF_GPRS = 0x150, OFF_CR3_LA57 = 0x1d0,
            OFF_GDT = 0x200;
    static final int GDT_ENTRIES = 8;
    static final long PML5 = 0x1000, PML4 = 0x2000, PDPT = 0x3000, PD = 0x4000, STACK_TOP = 0x9000;
    /** The order of the general registers in the parameter block (p_rax … p_r15 in the source). */
    static final String[] GPRS = {"RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP",
            "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"};
    /** 64-bit code and flat data descriptors (as the emulator's and Linux's boot GDTs have them). */
    static final long CODE64 = 0x00AF9A000000FFFFL, DATA = 0x00CF92000000FFFFL;
    /** Linux's boot selectors (Documentation/arch/x86/boot.rst): present in the GDT besides the payload's. */
    static final int BOOT_CS = 0x10, BOOT_DS = 0x18;
    /** CR0.MP|ET|NE|WP and CR4.OSFXSR|OSXMMEXCPT: the captured bits that are set again (FPU/SSE, write protect). */
    static final long CR0_BITS = 0x2 | 0x10 | 0x20 | 0x10000, CR4_BITS = 0x200 | 0x400;
    /** RFLAGS: IF is never restored (interrupts stay off until the payload's own IDT is in place); bit 1 is fixed. */
    static final long RFLAGS_KEEP = ~(1L << 9);

    private Purgatory() {
    }

    /**
     * The purgatory segment for {@code base} (page aligned, {@code base + SIZE <= 4 GiB}) resuming at {@code rip}
     * with {@code registers} (names as {@link org.kexecmeasured.uefi.spi.Cpu.Reg}: RAX … R15, RSP, RFLAGS, CR0,
     * CR4, CS, DS; a missing general register is 0).
     */
    public static byte[] build(long base, long rip, Map<String, Long> registers) {
        if (base < 0 || base % KexecSegment.PAGE != 0 || base + SIZE > (1L << 32)) {
            throw new IllegalArgumentException("purgatory base 0x" + Long.toHexString(base)
                    + " must be page aligned and the purgatory below 4 GiB");
        }
        int cs = (int) (long) registers.getOrDefault("CS", (long) BOOT_CS);
        int ds = (int) (long) registers.getOrDefault("DS", (long) BOOT_DS);
        for (int sel : new int[]{cs, ds}) {
            if (sel == 0 || (sel & 7) != 0 || sel / 8 >= GDT_ENTRIES) {
                throw new IllegalArgumentException("selector 0x" + Integer.toHexString(sel)
                        + " does not fit the purgatory's GDT (index 1-7, TI 0, RPL 0)");
            }
        }
        if (cs == ds || cs == BOOT_DS || ds == BOOT_CS) {
            throw new IllegalArgumentException("CS 0x" + Integer.toHexString(cs) + " and DS 0x" + Integer.toHexString(ds)
                    + " collide with each other or with Linux's boot selectors 0x10/0x18");
        }
        ByteBuffer b = ByteBuffer.allocate((int) SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, CODE);
        b.putShort(OFF_GDT_DESC, (short) (GDT_ENTRIES * 8 - 1));
        b.putLong(OFF_GDT_DESC + 2, base + OFF_GDT);
        b.putLong(OFF_STACK, base + STACK_TOP);
        b.putLong(OFF_CR3, base + PML4);
        b.putLong(OFF_CR3_LA57, base + PML5);
        b.putLong(OFF_CR0, registers.getOrDefault("CR0", 0L) & CR0_BITS);
        b.putLong(OFF_CR4, registers.getOrDefault("CR4", 0L) & CR4_BITS);
        b.putLong(OFF_CS, cs);
        b.putLong(OFF_DS, ds);
        b.putLong(OFF_RFLAGS, (registers.getOrDefault("RFLAGS", 2L) & RFLAGS_KEEP) | 2);
        b.putLong(OFF_RIP, rip);
        for (int i = 0; i < GPRS.length; i++) {
            b.putLong(OFF_GPRS + 8 * i, registers.getOrDefault(GPRS[i], 0L));
        }
        // GDT: Linux's boot selectors, then the payload's (which win where they coincide)
        b.putLong(OFF_GDT + BOOT_CS, CODE64);
        b.putLong(OFF_GDT + BOOT_DS, DATA);
        b.putLong(OFF_GDT + cs, CODE64);
        b.putLong(OFF_GDT + ds, DATA);
        // page tables: PML5[0] -> PML4, PML4[0] -> PDPT, PDPT[0..3] -> PDs, 2048 2 MiB pages (present, writable, PS)
        b.putLong((int) PML5, (base + PML4) | 0x3);
        b.putLong((int) PML4, (base + PDPT) | 0x3);
        for (int j = 0; j < 4; j++) {
            b.putLong((int) PDPT + 8 * j, (base + PD + 0x1000L * j) | 0x3);
        }
        for (int i = 0; i < 2048; i++) {
            b.putLong((int) PD + 8 * i, ((long) i << 21) | 0x83);
        }
        return b.array();
    }
}
