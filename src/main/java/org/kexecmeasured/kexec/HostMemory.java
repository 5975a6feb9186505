package org.kexecmeasured.kexec;

import org.kexecmeasured.uefi.Machine;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The real machine's RAM where resume-mode kexec segments may go, as the emulator's RAM layout: the firmware's
 * "System RAM" ranges ({@code /sys/firmware/memmap/N/{start,end,type}}, the boot-time map kexec-tools uses too)
 * minus the {@code crashkernel=} reservation ("Crash kernel" in {@code /proc/iomem}: kexec_load of a normal kernel
 * must not land there), below the emulator's trap page (so below 4 GiB), trimmed to whole pages, ranges under 1 MiB
 * left out (except the legacy RAM below 1 MiB, which payloads such as memtest86+ need), and the highest range at least 32 MiB (the emulated firmware's area sits at its top; smaller ranges
 * above it are left out), and of that only the highest part up to a budget ({@link #budget}). Firmware-reserved,
 * ACPI and runtime-services memory never appear: they are not System RAM. The running kernel's own pages do:
 * the kernel copies kexec segments into place only at the kexec, after it stopped using them.
 */
public final class HostMemory {

    /** Ranges smaller than this are left out (no allocation of a payload fits them). */
    static final long MIN_RANGE = 1L << 20;
    /** At most this many memmap entries are read (a real map has tens). */
    static final int MAX_ENTRIES = 4096;

    private HostMemory() {
    }

    /** The running system. */
    public static List<RamRange> read() {
        return read(Path.of("/"));
    }

    /** Reads below {@code root} (tests give a tree shaped like /). */
    public static List<RamRange> read(Path root) {
        Path memmap = root.resolve("sys/firmware/memmap");
        List<long[]> ram = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(memmap)) {
            int n = 0;
            for (Path e : d) {
                if (++n > MAX_ENTRIES) throw new BadInputException(memmap + ": more than " + MAX_ENTRIES + " entries");
                if (!"System RAM".equals(text(e.resolve("type")))) continue;
                long start = hex(e.resolve("start")), end = hex(e.resolve("end")) + 1; // end is inclusive
                if (end > start) ram.add(new long[]{start, end});
            }
        } catch (IOException e) {
            throw new BadInputException(memmap + " is not readable (" + e.getMessage() + "): resume mode needs the "
                    + "firmware memory map (CONFIG_FIRMWARE_MEMMAP) to place the payload in real RAM");
        }
        List<long[]> crash = crashKernel(root.resolve("proc/iomem"));
        long total = 0;
        for (long[] r : ram) total += r[1] - r[0];
        List<RamRange> out = new ArrayList<>(low(ram));
        out.addAll(highest(layout(ram, crash), budget(total)));
        return out;
    }

    /** Legacy low memory below 1 MiB, whole pages: payloads such as memtest86+ need some (its low heap). */
    static final long LOW_END = 0x100000, MIN_LOW = 64 << 10;

    /** The System RAM below {@link #LOW_END} (the first range, from 0: page 0 stays reserved in the emulator). */
    static List<RamRange> low(List<long[]> ram) {
        List<RamRange> out = new ArrayList<>();
        for (long[] r : ram) {
            long s = (r[0] + 0xFFF) & ~0xFFFL, e = Math.min(r[1], LOW_END) & ~0xFFFL;
            if (e - s >= MIN_LOW && out.isEmpty()) out.add(new RamRange(s, e));
        }
        return out;
    }

    /**
     * How much of the RAM the emulator maps: a quarter of the machine's RAM, at most {@link #MAX_EMULATED} and at
     * least {@link #MIN_EMULATED}. Unicorn backs its map with host memory of this process; mapping all of a small
     * machine's RAM fails (measured: a 2 GiB QEMU guest refused a 1.97 GiB uc_mem_map with UC_ERR_NOMEM). The payload
     * only needs room for what it allocates (a kernel, its initrd, boot_params), and every part of it is real RAM.
     */
    static long budget(long totalRam) {
        return Math.max(MIN_EMULATED, Math.min(MAX_EMULATED, (totalRam / 4) & ~0xFFFFFL));
    }

    static final long MAX_EMULATED = 1L << 30, MIN_EMULATED = 128L << 20;

    /** The top {@code bytes} of {@code ranges} (sorted): whole ranges from the highest down, the lowest one kept trimmed from below. */
    static List<RamRange> highest(List<RamRange> ranges, long bytes) {
        List<RamRange> out = new ArrayList<>();
        long left = bytes;
        for (int i = ranges.size() - 1; i >= 0 && left >= MIN_RANGE; i--) {
            RamRange r = ranges.get(i);
            if (r.size() <= left) {
                out.add(0, r);
                left -= r.size();
            } else {
                out.add(0, new RamRange((r.end() - left) & ~0xFFFL, r.end()));
                left = 0;
            }
        }
        return out;
    }

    /** System RAM minus the holes, clipped below the trap page, whole pages, sorted; fails when nothing usable is left. */
    static List<RamRange> layout(List<long[]> ram, List<long[]> holes) {
        List<long[]> pieces = new ArrayList<>();
        for (long[] r : ram) pieces.add(new long[]{r[0], Math.min(r[1], Machine.TRAP_BASE)});
        for (long[] h : holes) {
            List<long[]> next = new ArrayList<>();
            for (long[] p : pieces) {
                if (h[1] <= p[0] || h[0] >= p[1]) {
                    next.add(p);
                    continue;
                }
                if (p[0] < h[0]) next.add(new long[]{p[0], h[0]});
                if (h[1] < p[1]) next.add(new long[]{h[1], p[1]});
            }
            pieces = next;
        }
        pieces.sort(Comparator.comparingLong(p -> p[0]));
        List<RamRange> out = new ArrayList<>();
        long prevEnd = 0;
        for (long[] p : pieces) {
            long s = Math.max((p[0] + 0xFFF) & ~0xFFFL, prevEnd), e = p[1] & ~0xFFFL;
            if (e - s < MIN_RANGE) continue;
            out.add(new RamRange(s, e));
            prevEnd = e;
        }
        // the emulated firmware lives at the top of the highest range: small ranges above the last large one go
        // (OVMF and other firmware leave a few pages of RAM between their reserved areas near the top of low memory)
        while (!out.isEmpty() && out.get(out.size() - 1).size() < 2 * Machine.FIRMWARE_SIZE) {
            out.remove(out.size() - 1);
        }
        if (out.isEmpty()) {
            throw new BadInputException("the firmware memory map has no usable RAM range of at least "
                    + (2 * Machine.FIRMWARE_SIZE >> 20) + " MiB below 0x" + Long.toHexString(Machine.TRAP_BASE)
                    + " for the emulated firmware: " + describe(pieces));
        }
        return out;
    }

    /** "Crash kernel" ranges of /proc/iomem (absent file or none: no hole). */
    static List<long[]> crashKernel(Path iomem) {
        List<long[]> out = new ArrayList<>();
        if (!Files.exists(iomem)) return out;
        // unreadable: refused (BadInputException) rather than read as "no reservation"
        List<String> lines = new String(BoundedFiles.read(iomem, BoundedFiles.TEXT), StandardCharsets.US_ASCII).lines().toList();
        for (String l : lines) {
            int colon = l.indexOf(" : ");
            if (colon < 0 || !l.substring(colon + 3).trim().equals("Crash kernel")) continue;
            String[] se = l.substring(0, colon).trim().split("-");
            try {
                long s = Long.parseUnsignedLong(se[0], 16), e = Long.parseUnsignedLong(se[1], 16) + 1;
                if (s == 0 && e == 1) {
                    throw new BadInputException(iomem + " hides addresses (not root): the crash kernel reservation "
                            + "cannot be avoided");
                }
                out.add(new long[]{s, e});
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException x) {
                throw new BadInputException(iomem + ": cannot read the line '" + l.trim() + "'");
            }
        }
        return out;
    }

    private static String describe(List<long[]> pieces) {
        StringBuilder b = new StringBuilder();
        for (long[] p : pieces) b.append(String.format("0x%x-0x%x ", p[0], p[1]));
        return b.length() == 0 ? "none" : b.toString().trim();
    }

    private static String text(Path p) throws IOException {
        try (BoundedFiles.Input in = BoundedFiles.open(p, BoundedFiles.TEXT)) {
            return new String(in.head(64), StandardCharsets.US_ASCII).trim();
        }
    }

    private static long hex(Path p) throws IOException {
        String t = text(p);
        try {
            return Long.parseUnsignedLong(t.startsWith("0x") ? t.substring(2) : t, 16);
        } catch (NumberFormatException e) {
            throw new BadInputException(p + ": '" + t + "' is not a hexadecimal address");
        }
    }
}
