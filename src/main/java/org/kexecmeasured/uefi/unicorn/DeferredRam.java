package org.kexecmeasured.uefi.unicorn;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Guest RAM pages whose content is defined but not yet in the engine: page-aligned ranges, each the bytes of a
 * host buffer that nothing writes to (a payload section) followed by zeros. The engine has these pages unmapped; the guest's
 * first access to one maps it ({@link UnicornCpu} materializes the {@link #CHUNK} holding it), while host reads
 * take the bytes straight from the buffer. A UKI's 50 MiB {@code .initrd} that only the host reads (the TCG2
 * measurement, the hand-off's initrd) then never costs fresh memory, which on a virtual machine is the largest
 * per-MiB cost of a run (the kernel zeroing each new page, ~2 ms/MiB).
 *
 * <p>Pure bookkeeping, no engine calls: which ranges are deferred, what a range of them holds, and which part
 * to take out when it is materialized.
 */
final class DeferredRam {

    /** Page size of the engine's mappings: deferred ranges start and end on it. */
    static final long PAGE = 4096;
    /** What the guest's first access materializes: the aligned 2 MiB around it (a huge page), clipped to the range. */
    static final long CHUNK = 2L << 20;

    /**
     * [start, end) of guest RAM holding {@code content} (position 0 at {@code start}), zeros after it. The buffer
     * is never written here (not necessarily a read-only view) and never changes while the engine lives.
     */
    record Range(long start, long end, ByteBuffer content) {
        Range {
            if (end <= start || content.remaining() > end - start) {
                throw new IllegalArgumentException("deferred range 0x" + Long.toHexString(start) + "-0x"
                        + Long.toHexString(end) + " of " + content.remaining() + " bytes");
            }
        }

        /** The bytes of [from, to) ⊆ this range that come from the content (the rest are zeros). */
        ByteBuffer contentOf(long from, long to) {
            long cs = Math.min(from - start, content.remaining());
            long ce = Math.min(to - start, content.remaining());
            return content.slice((int) cs, (int) (ce - cs));
        }

        /** This range cut to [from, to) (inside it), with its content shifted to match. */
        Range cut(long from, long to) {
            long off = Math.min(from - start, content.remaining());
            long len = Math.max(0, Math.min(to - start, content.remaining()) - off);
            return new Range(from, to, content.slice((int) off, (int) len));
        }
    }

    private final TreeMap<Long, Range> ranges = new TreeMap<>();

    /** Defers [start, end); it must not overlap a deferred range (callers materialize first). */
    void add(Range r) {
        if (r.start() % PAGE != 0 || r.end() % PAGE != 0) {
            throw new IllegalArgumentException("deferred range 0x" + Long.toHexString(r.start()) + "-0x"
                    + Long.toHexString(r.end()) + " is not page-aligned");
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(r.end() - 1);
        if (below != null && below.getValue().end() > r.start()) {
            throw new IllegalStateException("deferred ranges overlap at 0x" + Long.toHexString(r.start()));
        }
        ranges.put(r.start(), r);
    }

    /** The deferred range holding {@code address}, or null. */
    Range at(long address) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        return e != null && Long.compareUnsigned(address, e.getValue().end()) < 0 ? e.getValue() : null;
    }

    boolean isEmpty() {
        return ranges.isEmpty();
    }

    /** Whether any deferred page lies in [address, address + len). */
    boolean overlaps(long address, long len) {
        if (len <= 0 || ranges.isEmpty()) {
            return false;
        }
        Map.Entry<Long, Range> e = ranges.floorEntry(address + len - 1);
        return e != null && e.getValue().end() > address;
    }

    /** Whether every page of [from, to) is deferred and holds zeros (no content). */
    boolean zerosThroughout(long from, long to) {
        long at = from;
        for (Range r : within(from, to - from)) {
            if (r.start() != at || r.content().hasRemaining()) {
                return false;
            }
            at = r.end();
        }
        return at == to;
    }

    /** The deferred ranges meeting [address, address + len), each cut to it (not page-aligned then), in order. */
    List<Range> within(long address, long len) {
        List<Range> out = new ArrayList<>();
        if (len <= 0) {
            return out;
        }
        long end = address + len;
        Long k = ranges.floorKey(address);
        for (Range r : ranges.tailMap(k == null ? address : k, true).values()) {
            if (r.start() >= end) {
                break;
            }
            if (r.end() > address) {
                out.add(r.cut(Math.max(r.start(), address), Math.min(r.end(), end)));
            }
        }
        return out;
    }

    /**
     * Takes [from, to) out of the deferred ranges (page-aligned; parts that are not deferred are skipped) and
     * returns what it held, piece by piece: the caller copies each into host RAM and maps it.
     */
    List<Range> take(long from, long to) {
        List<Range> taken = within(from, to - from);
        for (Range t : taken) {
            Range r = at(t.start());
            ranges.remove(r.start());
            if (r.start() < t.start()) {
                ranges.put(r.start(), r.cut(r.start(), t.start()));
            }
            if (t.end() < r.end()) {
                ranges.put(t.end(), r.cut(t.end(), r.end()));
            }
        }
        return taken;
    }

    /** The chunk materialized for a guest access at {@code address} in {@code r}: the aligned CHUNK, clipped. */
    static long[] chunkAround(Range r, long address) {
        long cs = Math.max(r.start(), address & -CHUNK);
        long ce = Math.min(r.end(), (address & -CHUNK) + CHUNK);
        return new long[]{cs, ce};
    }
}
