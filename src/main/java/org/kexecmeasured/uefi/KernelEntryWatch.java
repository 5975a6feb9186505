package org.kexecmeasured.uefi;

import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.util.BadInputException;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Sees the cut-over when a payload starts a Linux EFI-stub kernel without StartImage. systemd-stub 258 and
 * later (when no shim asks otherwise) copy the sections of their {@code .linux} PE into pages they allocate,
 * point their own LoadedImage at the copy (ImageBase, FilePath, LoadOptions = the command line) and call its
 * entry point as {@code entry(ImageHandle, SystemTable)}: no LoadImage, no StartImage.
 *
 * <p>How it is seen, cheaply: every Linux kernel embedded in a loaded image (a PE section whose bytes are a
 * bzImage with an EFI stub: "MZ" and "HdrS") is a candidate, with its entry point RVA and SizeOfImage. When the
 * payload allocates pages that can hold a candidate, a code hook goes on {@code base + entry RVA} of that
 * allocation (one address each: no other code pays). When it fires and the bytes there are the kernel's own
 * entry code, the payload has jumped into that kernel: the run stops there. Nothing is inferred from the
 * payload's identity or version.
 *
 * <p>The entry bytes only say where to stop; what makes it the kernel's hand-over is the whole image: before the
 * hand-off names the candidate, {@link #checkImageInMemory} compares every section the stub copies (its raw data at
 * base + VirtualAddress, and the zeros up to VirtualSize, as systemd's {@code linux_exec} lays it out; headers
 * are not copied) with the candidate's bytes. A payload that placed only the entry code, or a kernel changed
 * anywhere, is refused instead of being reported as the kernel it measured (review finding 13).
 */
final class KernelEntryWatch {

    /** Bytes of the kernel's entry code compared at the hooked address. */
    static final int PROBE = 32;
    /** Kernels remembered (a payload embeds one, a few with profiles). */
    static final int MAX_CANDIDATES = 16;

    /**
     * A Linux kernel found inside a loaded image: {@code file} is a read-only view of that image's own bytes (the
     * section's raw data, clipped to VirtualSize), not a copy. An image's bytes never change while the emulator
     * runs (the payload's mapping under its read lease, or a LoadImage source the loader took), so the view is the
     * kernel as it was when the image was loaded.
     */
    record Candidate(ByteBuffer file, long entryRva, long sizeOfImage, byte[] entryCode, List<Section> sections) {
    }

    /** The jump seen: which kernel, and the image handle it was called with (RCX). */
    record Entered(Candidate kernel, long address, long imageHandle) {
    }

    private final Cpu cpu;
    private final boolean enabled;
    private final List<Candidate> candidates = new ArrayList<>();
    private final Set<Long> hooked = new HashSet<>();
    private Entered entered;

    /** @param enabled false in full emulation, where the kernel's own stub runs on to ExitBootServices */
    KernelEntryWatch(Cpu cpu, boolean enabled) {
        this.cpu = cpu;
        this.enabled = enabled;
    }

    /**
     * Remembers every Linux kernel embedded as a section of a just loaded image. Nothing is copied: a section is
     * looked at through a view of the image's bytes (a UKI's {@code .initrd} may be 100 MiB and more; only its
     * first page's header is read).
     */
    void imageLoaded(PeFile pe) {
        if (!enabled) {
            return;
        }
        for (Section s : pe.sections()) {
            if (candidates.size() >= MAX_CANDIDATES) {
                return;
            }
            // the raw data clipped to the file and to VirtualSize: the file alignment's padding is not the kernel's
            long start = Math.min(s.pointerToRawData(), pe.fileSize());
            long n = Math.min(s.sizeOfRawData(), pe.fileSize() - start);
            if (s.virtualSize() > 0) n = Math.min(n, s.virtualSize());
            ByteBuffer d = pe.slice(start, n).asReadOnlyBuffer();
            if (!ImageServices.isLinuxKernel(ImageServices.head(d, 0x240))) {
                continue;
            }
            Candidate c = candidate(d);
            if (c != null) {
                candidates.add(c);
            }
        }
    }

    /** The kernel's entry RVA, SizeOfImage and entry code, or null when it is no loadable PE. */
    private static Candidate candidate(ByteBuffer kernel) {
        try {
            PeFile k = PeFile.parse(kernel);
            long entry = k.addressOfEntryPoint();
            for (Section s : k.sections()) {
                if (entry >= s.virtualAddress() && entry - s.virtualAddress() + PROBE <= s.sizeOfRawData()) {
                    long off = s.pointerToRawData() + entry - s.virtualAddress();
                    if (off + PROBE > kernel.limit()) {
                        return null;
                    }
                    byte[] code = new byte[PROBE];
                    kernel.get((int) off, code);
                    return new Candidate(kernel, entry, k.sizeOfImage(), code, k.sections());
                }
            }
        } catch (BadInputException e) {
            // not a PE we can read: the payload could not load it either
        }
        return null;
    }

    /** After AllocatePages: a hook on each candidate's entry in the new range, if the kernel fits in it. */
    void pagesAllocated(long base, long pages) {
        if (candidates.isEmpty()) {
            return;
        }
        long bytes = pages * MemoryMap.PAGE;
        for (Candidate c : candidates) {
            long at = base + c.entryRva();
            if (c.sizeOfImage() <= bytes && hooked.add(at)) {
                cpu.addCodeHook(at, address -> reached(address));
            }
        }
    }

    private void reached(long address) {
        if (entered != null) {
            return;
        }
        for (Candidate c : candidates) {
            byte[] here;
            try {
                here = cpu.memory().read(address, PROBE);
            } catch (RuntimeException e) {
                return;
            }
            if (Arrays.equals(here, c.entryCode())) {
                entered = new Entered(c, address, cpu.reg(Cpu.Reg.RCX));
                cpu.stop();
                return;
            }
        }
    }

    /** The jump into a kernel, once seen; else null. */
    Entered entered() {
        return entered;
    }

    /** Bytes compared per read of guest memory. */
    private static final int CHUNK = 1 << 20;

    /**
     * The image the payload entered must be the candidate, section by section: each section's raw data (clipped
     * to VirtualSize) at base + VirtualAddress, then zeros up to VirtualSize, where base = entry - entry RVA.
     * Sections without raw data are not copied by the stub and not compared. Throws {@link EmulationException}
     * naming the section and offset of the first difference: the hand-off would not name the kernel that runs.
     */
    static void checkImageInMemory(GuestMemory m, Entered e) {
        Candidate k = e.kernel();
        long base = e.address() - k.entryRva();
        byte[] buf = new byte[CHUNK];
        byte[] zeros = new byte[CHUNK];
        for (Section s : k.sections()) {
            if (s.sizeOfRawData() == 0) {
                continue;
            }
            int fileSize = k.file().limit();
            long raw = Math.min(s.sizeOfRawData(), fileSize - Math.min(s.pointerToRawData(), fileSize));
            if (s.virtualSize() > 0) raw = Math.min(raw, s.virtualSize());
            long loaded = Math.max(raw, s.virtualSize());
            long at = base + s.virtualAddress();
            if (!m.isMapped(at, loaded)) {
                throw new EmulationException("the payload entered a Linux kernel at 0x" + Long.toHexString(e.address())
                        + " whose section " + s.name() + " (0x" + Long.toHexString(at) + ", " + loaded
                        + " bytes) is not in guest RAM: no whole kernel image is there");
            }
            for (long off = 0; off < loaded; off += CHUNK) {
                int n = (int) Math.min(CHUNK, loaded - off);
                m.read(at + off, buf, 0, n);
                // the part of this chunk that is raw data, then the part that must be zero
                int nRaw = (int) Math.max(0, Math.min(n, raw - off));
                int from = (int) (s.pointerToRawData() + off);
                boolean same = (nRaw == 0 || ByteBuffer.wrap(buf, 0, nRaw).equals(k.file().slice(from, nRaw)))
                        && Arrays.equals(buf, nRaw, n, zeros, 0, n - nRaw);
                if (!same) {
                    throw new EmulationException("the payload entered a Linux kernel at 0x" + Long.toHexString(e.address())
                            + " whose image differs from the kernel it holds (" + s.name() + " within 0x"
                            + Long.toHexString(off) + "..0x" + Long.toHexString(off + n) + "): the entry code is the kernel's, the image"
                            + " is not, so the hand-off would not name the kernel that runs");
                }
            }
        }
    }
}
