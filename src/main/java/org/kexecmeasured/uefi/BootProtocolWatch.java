package org.kexecmeasured.uefi;

import org.kexecmeasured.payload.linux.BzImage;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.GuestBytes;
import org.kexecmeasured.uefi.spi.Tcg2Measurer;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.ByteViews;
import org.kexecmeasured.util.Le;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Sees a payload boot a Linux kernel through the x86 boot protocol after its own ExitBootServices, as Debian's
 * GRUB 2.06 does with its legacy {@code linux} loader: it fills boot_params ("zero page"), exits boot services,
 * and its relocator copies the kernel and boot_params into place, leaves long mode and jumps to the kernel's
 * 32-bit entry {@code startup_32} with ESI = boot_params (grub_relocator32_boot). The kernel's EFI stub never
 * runs, so nothing of it is measured (Documentation/arch/x86/boot.rst, "32-bit boot protocol").
 *
 * <p>How it is seen without knowing the loader: the candidates are the bzImages the payload measured through
 * EFI_TCG2_PROTOCOL (GRUB's verifier hashes each file it opens, the kernel among them, from the buffer it then
 * loads from). After ExitBootServices every executed block is compared with each candidate's entry code: the
 * first bytes of its protected-mode code ({@code startup_32}) and, for a 64-bit kernel, those at +0x200
 * ({@code startup_64}, the 64-bit boot protocol's entry). When they match, the kernel placed there must be the
 * measured file byte for byte (its protected-mode code compared in full); then boot_params is read at RSI.
 *
 * <p>With Secure Boot on, Debian's GRUB 2.06 boots differently (its linuxefi loader): it has shim verify the
 * kernel, copies the protected-mode code into pages it allocates for the kernel's init_size, and calls the EFI
 * handover entry ({@code handover_offset + 0x200} of that code for a 64-bit kernel, XLF_EFI_HANDOVER_64) as
 * {@code hf(ImageHandle, SystemTable, boot_params)} in the System V ABI — before ExitBootServices, so the kernel's
 * EFI stub runs ({@code efi_stub_entry} → {@code efi_main}), reading cmdline and initrd from boot_params. That jump
 * is seen as systemd-stub's direct entry is ({@link KernelEntryWatch}): when the payload allocates pages that can
 * hold a measured kernel with a handover entry, a code hook goes on that entry in the new range; when it fires and
 * the bytes there are the kernel's, the run stops with boot_params at RDX.
 */
final class BootProtocolWatch {

    /** Bytes of entry code compared at a block. */
    static final int PROBE = 32;
    /** Kernels remembered; later bzImages are not candidates. */
    static final int MAX_CANDIDATES = 8;
    /** Blocks run after ExitBootServices before the watch gives up (GRUB's relocator takes a few hundred). */
    static final long MAX_BLOCKS = 20_000_000L;
    /** The zero page (struct boot_params). */
    static final int BOOT_PARAMS_SIZE = 4096;
    /** Longest command line read from cmd_line_ptr (the kernel's own limit is COMMAND_LINE_SIZE, 2-4 KiB). */
    static final int MAX_CMDLINE = 1 << 20;
    /** Largest initrd copied out of guest memory (a Java array; a real one is < 1 GiB). */
    static final long MAX_INITRD = 1L << 30;

    /**
     * A measured bzImage: its file, where its protected-mode code starts, its two boot-protocol entries' code, and
     * its EFI handover entry (offset in the protected-mode code, -1 without one) and that entry's code. The file is
     * read-only and keeps the bytes that were measured: a view of the payload's section when the guest measured
     * bytes it had not touched ({@link GuestBytes#snapshot}), else a copy.
     */
    record Candidate(ByteBuffer file, int protectedModeOffset, byte[] entry32, byte[] entry64, long handoverEntry,
                     byte[] handoverCode) {
        int protectedModeLength() {
            return file.limit() - protectedModeOffset;
        }
    }

    /** Which entry the payload jumped to. */
    enum Via {
        /** {@code startup_32} after ExitBootServices, boot_params at ESI. */
        STARTUP_32(0),
        /** {@code startup_64} (+0x200) after ExitBootServices, boot_params at RSI. */
        STARTUP_64(0x200),
        /** The EFI handover entry before ExitBootServices, boot_params at RDX (its offset is the kernel's). */
        EFI_HANDOVER(-1);

        private final long offset;

        Via(long offset) {
            this.offset = offset;
        }
    }

    /** The jump seen: which kernel, at which entry, with which boot_params. */
    record Entered(Candidate kernel, long address, Via via, long bootParams) {
        /** Where the kernel's protected-mode code is in guest memory. */
        long protectedModeBase() {
            return address - (via == Via.EFI_HANDOVER ? kernel.handoverEntry() : via.offset);
        }
    }

    private final List<Candidate> candidates = new ArrayList<>();
    private final java.util.Set<Long> hooked = new java.util.HashSet<>();
    private long blocks;
    private Entered entered;

    /** Bytes of a bzImage's setup header that {@link BzImage#looksLikeBzImage} looks at. */
    private static final int BZIMAGE_HEADER = 0x268;

    /** A measurer that passes everything on to {@code m} and keeps each measured bzImage as a candidate. */
    Tcg2Measurer watching(Tcg2Measurer m) {
        return new Tcg2Measurer() {
            @Override
            public void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
                m.measure(pcr, eventType, eventData, dataToHash, flags);
                measured(ByteBuffer.wrap(dataToHash));
            }

            /**
             * Guest data goes on to {@code m} as it is (hashed piece by piece, no host copy); only a bzImage (its
             * header read first) is kept whole as a candidate, not the 50 MiB initrd beside it: as a view of the
             * payload's section when the guest had not touched it (systemd-stub measuring its .linux), else a copy.
             */
            @Override
            public void measure(int pcr, int eventType, byte[] eventData, GuestBytes dataToHash, long flags) {
                m.measure(pcr, eventType, eventData, dataToHash, flags);
                if (candidates.size() < MAX_CANDIDATES && dataToHash.length() >= BZIMAGE_HEADER
                        && BzImage.looksLikeBzImage(dataToHash.head(BZIMAGE_HEADER))) {
                    measured(dataToHash.snapshot());
                }
            }

            @Override
            public int activePcrBanks() {
                return m.activePcrBanks();
            }

            @Override
            public byte[] guestEventLog() {
                return m.guestEventLog();
            }

            @Override
            public void onLogAppend(Consumer<byte[]> listener) {
                m.onLogAppend(listener);
            }
        };
    }

    /**
     * Keeps {@code data} (bytes 0 to its limit, never changed afterwards: the caller's own or a view of unchanging
     * host bytes) as a candidate when it is a bzImage with a readable header and entry code.
     */
    void measured(ByteBuffer data) {
        if (candidates.size() >= MAX_CANDIDATES || !BzImage.looksLikeBzImage(data)) {
            return;
        }
        BzImage h;
        try {
            h = BzImage.parse(data);
        } catch (BadInputException e) {
            return; // a file no loader could boot
        }
        long pm = h.protectedModeOffset();
        if (pm + 0x200 + PROBE > data.limit()) {
            return;
        }
        int p = (int) pm;
        byte[] e32 = probe(data, p);
        byte[] e64 = (h.xloadFlags() & BzImage.XLF_KERNEL_64) != 0 ? probe(data, p + 0x200) : null;
        long handover = -1;
        byte[] handoverCode = null;
        if ((h.xloadFlags() & BzImage.XLF_EFI_HANDOVER_64) != 0 && h.handoverOffset() > 0
                && pm + h.handoverOffset() + 0x200 + PROBE <= data.limit()) {
            handover = h.handoverOffset() + 0x200; // the 64-bit handover entry (boot.rst: handover_offset + 0x200)
            handoverCode = probe(data, (int) (pm + handover));
        }
        ByteBuffer file = data.duplicate().clear().asReadOnlyBuffer();
        for (Candidate c : candidates) {
            if (ByteViews.sameContent(c.file(), file)) {
                return; // the same file measured twice
            }
        }
        candidates.add(new Candidate(file, p, e32, e64, handover, handoverCode));
    }

    /** The {@link #PROBE} bytes at {@code at}. */
    private static byte[] probe(ByteBuffer b, int at) {
        byte[] code = new byte[PROBE];
        b.get(at, code);
        return code;
    }

    /**
     * After AllocatePages (before ExitBootServices, not in full emulation): a code hook on the handover entry of
     * each measured kernel whose protected-mode code fits in the new range.
     */
    void pagesAllocated(Cpu cpu, long base, long pages) {
        long bytes = pages * MemoryMap.PAGE;
        for (Candidate c : candidates) {
            long at = base + c.handoverEntry();
            if (c.handoverEntry() >= 0 && c.protectedModeLength() <= bytes && hooked.add(at)) {
                cpu.addCodeHook(at, address -> handoverReached(cpu, address));
            }
        }
    }

    private void handoverReached(Cpu cpu, long address) {
        if (entered != null) {
            return;
        }
        byte[] here;
        try {
            here = cpu.memory().read(address, PROBE);
        } catch (RuntimeException e) {
            return;
        }
        for (Candidate c : candidates) {
            if (c.handoverCode() != null && Arrays.equals(here, c.handoverCode())) {
                entered = new Entered(c, address, Via.EFI_HANDOVER, cpu.reg(Cpu.Reg.RDX));
                cpu.stop();
                return;
            }
        }
    }

    boolean hasCandidates() {
        return !candidates.isEmpty();
    }

    /**
     * Called for each block after ExitBootServices: true when the block is a candidate's entry (the run then
     * stops there). Throws {@link EmulationException} past {@link #MAX_BLOCKS}.
     */
    boolean block(Cpu cpu, long address) {
        if (++blocks > MAX_BLOCKS) {
            throw new EmulationException("after ExitBootServices the payload ran " + MAX_BLOCKS
                    + " blocks without entering the Linux kernel it measured");
        }
        GuestMemory m = cpu.memory();
        if (!m.isMapped(address, PROBE)) {
            return false;
        }
        byte[] here = m.read(address, PROBE);
        for (Candidate c : candidates) {
            boolean at32 = Arrays.equals(here, c.entry32());
            boolean at64 = !at32 && c.entry64() != null && Arrays.equals(here, c.entry64());
            if (at32 || at64) {
                entered = new Entered(c, address, at64 ? Via.STARTUP_64 : Via.STARTUP_32,
                        cpu.reg(Cpu.Reg.RSI) & (at64 ? -1L : 0xFFFF_FFFFL));
                return true;
            }
        }
        return false;
    }

    /** The jump into a kernel, once seen; else null. */
    Entered entered() {
        return entered;
    }

    /** Blocks seen after ExitBootServices. */
    long blocks() {
        return blocks;
    }

    /**
     * What the kernel was handed, read from guest memory at the jump: the kernel (the measured file, once its
     * protected-mode code in memory is checked to be that file's), the command line at cmd_line_ptr and the
     * initrd at ramdisk_image/ramdisk_size (with their ext_ high halves).
     */
    static BootParams read(GuestMemory m, Entered e) {
        Candidate k = e.kernel();
        long pmBase = e.protectedModeBase();
        int pmLength = k.protectedModeLength();
        checkKernelInMemory(m, k, pmBase, pmLength);
        if (!m.isMapped(e.bootParams(), BOOT_PARAMS_SIZE)) {
            throw new EmulationException("the kernel was entered with boot_params at 0x"
                    + Long.toHexString(e.bootParams()) + ", outside guest RAM");
        }
        byte[] zp = m.read(e.bootParams(), BOOT_PARAMS_SIZE);
        // only the "HdrS" magic: loaders need not copy boot_flag (GRUB 2.06 leaves it 0), and the kernel checks neither
        if (Le.u32(zp, 0x202) != 0x53726448L) {
            throw new EmulationException("the kernel was entered with " + (e.via() == Via.EFI_HANDOVER ? "RDX" : "RSI")
                    + " = 0x" + Long.toHexString(e.bootParams())
                    + ", which holds no boot_params (no \"HdrS\" at 0x202)");
        }
        long cmdPtr = Le.u32(zp, 0x228) | Le.u32(zp, 0x0c8) << 32;
        String cmdline = cmdPtr == 0 ? "" : cString(m, cmdPtr, "cmd_line_ptr");
        long rdImage = Le.u32(zp, 0x218) | Le.u32(zp, 0x0c0) << 32;
        long rdSize = Le.u32(zp, 0x21c) | Le.u32(zp, 0x0c4) << 32;
        byte[] initrd = new byte[0];
        if (rdSize != 0) {
            if (rdSize > MAX_INITRD || !m.isMapped(rdImage, rdSize)) {
                throw new EmulationException("boot_params names an initrd of " + rdSize + " bytes at 0x"
                        + Long.toHexString(rdImage) + ", outside guest RAM or larger than " + (MAX_INITRD >> 20) + " MiB");
            }
            initrd = m.read(rdImage, rdSize);
        }
        return new BootParams(e.bootParams(), pmBase, cmdline, initrd);
    }

    /** What {@link #read} found. */
    record BootParams(long address, long kernelBase, String cmdline, byte[] initrd) {
    }

    /** The protected-mode code in memory must be the measured file's, or the hand-off would name another kernel. */
    private static void checkKernelInMemory(GuestMemory m, Candidate k, long base, int length) {
        if (!m.isMapped(base, length)) {
            throw new EmulationException("the kernel entered at 0x" + Long.toHexString(base) + " does not fit in guest RAM");
        }
        int chunk = 1 << 20;
        byte[] buf = new byte[Math.min(chunk, length)];
        for (int off = 0; off < length; off += chunk) {
            int n = Math.min(chunk, length - off);
            m.read(base + off, buf, 0, n);
            if (!ByteBuffer.wrap(buf, 0, n).equals(k.file().slice(k.protectedModeOffset() + off, n))) {
                throw new EmulationException("the kernel entered at 0x" + Long.toHexString(base)
                        + " differs from the measured bzImage within its protected-mode code at offset 0x"
                        + Integer.toHexString(off) + "; the hand-off would not name the kernel that runs");
            }
        }
    }

    private static String cString(GuestMemory m, long at, String what) {
        java.io.ByteArrayOutputStream sb = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[256];
        for (long p = at; p - at < MAX_CMDLINE; p += buf.length) {
            if (!m.isMapped(p, buf.length)) {
                throw new EmulationException(what + " 0x" + Long.toHexString(at) + " points outside guest RAM");
            }
            m.read(p, buf, 0, buf.length);
            for (int i = 0; i < buf.length; i++) {
                if (buf[i] == 0) {
                    sb.write(buf, 0, i);
                    return sb.toString(StandardCharsets.UTF_8);
                }
            }
            sb.write(buf, 0, buf.length);
        }
        throw new EmulationException(what + " 0x" + Long.toHexString(at) + ": no NUL within " + MAX_CMDLINE + " bytes");
    }
}
