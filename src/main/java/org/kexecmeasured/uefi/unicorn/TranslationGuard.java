package org.kexecmeasured.uefi.unicorn;

import java.util.HashMap;
import java.util.Map;

/**
 * Bounds what guest code can make the engine translate (issue 10 item 1). Unicorn translates each new
 * block of guest code once and runs it from its cache afterwards: Debian's kernel stub, XZ decompression
 * included, translates about two thousand blocks, boot loaders fewer. Three patterns make the engine
 * translate without end, and each ends the run with a message that names it:
 *
 * <ul>
 *   <li><b>zeroed memory</b>: a block whose first {@value #ZERO_PROBE} bytes are 0 ({@code add [rax],al}
 *   eight times, what a jump into unused RAM executes) — no compiler emits that;</li>
 *   <li><b>self-modifying loop</b>: one block address translated more than {@value #MAX_RETRANSLATIONS}
 *   times, because the code keeps rewriting itself (a store into translated code drops the block);</li>
 *   <li><b>runaway translation</b>: more than {@value #MAX_BLOCKS} blocks or {@value #MAX_GUEST_INSTRUCTIONS}
 *   guest instructions translated by one engine, some fifty to a hundred times what the largest supported
 *   payload needs (which also bounds this guard's own bookkeeping). This also keeps Debian's
 *   unpatched 2.0.1 well short of filling its 1 GiB translation buffer, which it does not flush correctly
 *   (the process dies; native/unicorn/README.md).</li>
 * </ul>
 *
 * <p>The engine reports new blocks through {@code UC_HOOK_EDGE_GENERATED}, which runs at translation time
 * only, so ordinary execution pays nothing. Not thread-safe: one guard per engine, called on its thread.
 */
final class TranslationGuard {

    static final int ZERO_PROBE = 16;
    static final int MAX_RETRANSLATIONS = 10_000;
    static final long MAX_GUEST_INSTRUCTIONS = 2_000_000;
    static final long MAX_BLOCKS = 200_000;

    /** Per block address: translations so far and when the first one happened. */
    private static final class Seen {
        int count;
        final long firstNanos;

        Seen(long firstNanos) {
            this.firstNanos = firstNanos;
        }
    }

    private final Map<Long, Seen> seen = new HashMap<>();
    private long instructions;
    private long blocks;

    /**
     * Records a newly translated block.
     *
     * @param pc        its guest address
     * @param icount    its guest instruction count
     * @param head      its first {@value #ZERO_PROBE} bytes, or null when unreadable or not to be judged
     * @param nowNanos  {@link System#nanoTime()}
     * @return null if it may run, else why the run must stop
     */
    String onTranslated(long pc, int icount, byte[] head, long nowNanos) {
        blocks++;
        instructions += icount;
        if (head != null && head.length == ZERO_PROBE && allZero(head)) {
            return "executing zeroed memory at RIP 0x" + Long.toHexString(pc)
                    + " (a jump into memory that holds no code)";
        }
        Seen s = seen.get(pc); // not computeIfAbsent: its lambda's class would be spun at run time (UnicornCpu.Walk)
        if (s == null) {
            s = new Seen(nowNanos);
            seen.put(pc, s);
        }
        if (++s.count > MAX_RETRANSLATIONS) {
            return "the payload rewrote its own code " + (s.count - 1) + " times in "
                    + (nowNanos - s.firstNanos) / 1_000_000 + " ms (self-modifying loop at RIP 0x"
                    + Long.toHexString(pc) + ")";
        }
        if (instructions > MAX_GUEST_INSTRUCTIONS || blocks > MAX_BLOCKS) {
            return "the payload made the engine translate " + blocks + " blocks of " + instructions
                    + " guest instructions, more than any boot loader needs (runaway code at RIP 0x"
                    + Long.toHexString(pc) + ")";
        }
        return null;
    }

    long blocks() {
        return blocks;
    }

    long instructions() {
        return instructions;
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
