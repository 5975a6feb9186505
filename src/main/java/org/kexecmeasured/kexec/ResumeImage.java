package org.kexecmeasured.kexec;

import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.util.BadInputException;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Resume mode's {@code kexec_load} image: every range the payload had allocated when its ExitBootServices returned
 * (captured by the emulator, {@link PostEbsState}) becomes a segment at the same physical address, plus the
 * {@link Purgatory} in a free part of the emulated RAM; the entry point is the purgatory's.
 *
 * <p>The emulated RAM mirrors the real machine's usable RAM ({@link HostMemory}), so every segment lands in real
 * RAM. The kernel takes at most {@link #KEXEC_SEGMENT_MAX} segments: ranges closer than {@link #MERGE_GAP} are
 * merged (the gap zero-filled); if more remain, the image is refused as bad input before any system call.
 */
public record ResumeImage(long entry, List<KexecSegment> segments) {

    /** include/linux/kexec.h KEXEC_SEGMENT_MAX. */
    public static final int KEXEC_SEGMENT_MAX = 16;
    /** Ranges closer than this are one segment (the hole between them is copied as zeros). */
    static final long MERGE_GAP = 1L << 20;

    public ResumeImage {
        segments = List.copyOf(segments);
    }

    /** The image for {@code state} captured with RAM {@code ram} (the emulator's layout, sorted). */
    public static ResumeImage of(PostEbsState state, List<RamRange> ram) {
        List<KexecSegment> captured = merge(state.segments());
        long base = purgatoryBase(captured, ram);
        List<KexecSegment> all = new ArrayList<>(captured);
        all.add(new KexecSegment(Purgatory.build(base, state.entry(), state.registers()), base, Purgatory.SIZE));
        all.sort(Comparator.comparingLong(KexecSegment::mem));
        if (all.size() > KEXEC_SEGMENT_MAX) {
            throw new BadInputException("the payload left " + captured.size() + " separate memory ranges at "
                    + "ExitBootServices; kexec_load takes at most " + KEXEC_SEGMENT_MAX + " segments (purgatory included)");
        }
        return new ResumeImage(base, all);
    }

    /**
     * Page-aligned segments of the captured ranges, neighbours closer than {@link #MERGE_GAP} merged. A range that
     * stays alone keeps its array (no copy: a Linux kernel's range is tens of MiB and the heap may be small); a
     * merged group is copied once into an array of its exact size.
     */
    static List<KexecSegment> merge(List<PostEbsState.Segment> ranges) {
        List<PostEbsState.Segment> sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.comparingLong(PostEbsState.Segment::start));
        List<KexecSegment> out = new ArrayList<>();
        List<PostEbsState.Segment> group = new ArrayList<>();
        long groupEnd = 0;
        for (PostEbsState.Segment s : sorted) {
            long start = s.start(), end = s.start() + s.data().length;
            if (start % KexecSegment.PAGE != 0 || end % KexecSegment.PAGE != 0) {
                throw new IllegalArgumentException("captured range 0x" + Long.toHexString(start) + " is not page aligned");
            }
            if (!group.isEmpty() && start < groupEnd) {
                throw new IllegalArgumentException("captured ranges overlap at 0x" + Long.toHexString(start));
            }
            if (!group.isEmpty() && start - groupEnd >= MERGE_GAP) {
                out.add(join(group));
                group.clear();
            }
            group.add(s);
            groupEnd = end;
        }
        if (!group.isEmpty()) out.add(join(group));
        return out;
    }

    /** One segment for ranges in address order (the holes between them zero). */
    private static KexecSegment join(List<PostEbsState.Segment> group) {
        PostEbsState.Segment first = group.get(0), last = group.get(group.size() - 1);
        long start = first.start(), size = last.start() + last.data().length - start;
        if (group.size() == 1) return new KexecSegment(first.data(), start, size);
        if (size > Integer.MAX_VALUE - 16) {
            throw new BadInputException("captured ranges from 0x" + Long.toHexString(start) + " span " + size
                    + " bytes: too large for one kexec segment");
        }
        byte[] d = new byte[(int) size];
        for (PostEbsState.Segment s : group) System.arraycopy(s.data(), 0, d, (int) (s.start() - start), s.data().length);
        return new KexecSegment(d, start, size);
    }

    /** The highest page-aligned place for the purgatory inside RAM, below 4 GiB, clear of every captured segment. */
    static long purgatoryBase(List<KexecSegment> captured, List<RamRange> ram) {
        return freeBase(captured, ram, Purgatory.SIZE);
    }

    /**
     * The highest page-aligned place for {@code size} bytes (a multiple of the page size) inside one RAM range, below
     * 4 GiB and above the first MiB, clear of every segment in {@code taken}.
     */
    static long freeBase(List<KexecSegment> taken, List<RamRange> ram, long size) {
        for (int i = ram.size() - 1; i >= 0; i--) {
            RamRange r = ram.get(i);
            long top = Math.min(r.end(), 1L << 32);
            long lowest = Math.max(r.start(), 0x100000); // not in the first MiB (legacy BIOS areas, real-mode trampolines)
            long at = (top - size) & ~(KexecSegment.PAGE - 1);
            while (at >= lowest) {
                long clash = -1;
                for (KexecSegment s : taken) {
                    if (at < s.end() && s.mem() < at + size) clash = Math.max(clash, s.mem());
                }
                if (clash < 0) return at;
                at = (clash - size) & ~(KexecSegment.PAGE - 1);
            }
        }
        throw new BadInputException("no free place for " + size + " bytes (resume purgatory or hand-over data) in the "
                + "emulated RAM below 4 GiB");
    }

    /** Bytes the segments copy in all. */
    public long bytes() {
        long n = 0;
        for (KexecSegment s : segments) n += s.memsz();
        return n;
    }
}
