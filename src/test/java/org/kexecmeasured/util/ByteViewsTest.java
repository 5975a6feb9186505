package org.kexecmeasured.util;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ByteViews}: "same memory" only for views whose remaining bytes start at the same place with the same length;
 * everything else is compared by content, so {@code sameContent} always agrees with {@link ByteBuffer#equals} (the
 * oracle: the JDK's own comparison, over every pair of the views below).
 */
class ByteViewsTest {

    @Test
    void viewsOfOneDirectBufferAreTheSameMemoryOnlyAtTheSameOffsetAndLength() {
        ByteBuffer mapped = ByteBuffer.allocateDirect(1 << 20);
        byte[] r = new byte[1 << 19];
        new Random(5).nextBytes(r);
        mapped.put(0, r).put(1 << 19, r); // the same bytes twice: equal content at two addresses
        ByteBuffer ro = mapped.asReadOnlyBuffer();
        ByteBuffer a = ro.slice(4096, 8192);
        ByteBuffer b = ro.duplicate().position(4096).limit(4096 + 8192); // same bytes, reached another way
        ByteBuffer c = ro.slice((1 << 19) + 4096, 8192); // equal content, other memory
        ByteBuffer d = ro.slice(4096, 8191); // same start, other length
        assertTrue(ByteViews.sameMemory(a, b));
        assertFalse(ByteViews.sameMemory(a, c));
        assertFalse(ByteViews.sameMemory(a, d));
        assertFalse(ByteViews.sameMemory(a, ByteBuffer.wrap(r, 4096, 8192)), "a heap array is never the mapping");
        ByteBuffer[] all = {a, b, c, d, ro.slice(8192, 8192), ByteBuffer.wrap(r, 4096, 8192).slice(), ByteBuffer.wrap(r).slice(4096, 8192)};
        for (ByteBuffer x : all) {
            for (ByteBuffer y : all) {
                assertEquals(x.equals(y), ByteViews.sameContent(x, y), x + " vs " + y);
            }
        }
    }

    @Test
    void heapViewsAreTheSameMemoryOnlyForOneArrayAtOneOffset() {
        byte[] x = new byte[64];
        new Random(6).nextBytes(x);
        assertTrue(ByteViews.sameMemory(ByteBuffer.wrap(x, 8, 16).slice(), ByteBuffer.wrap(x).position(8).limit(24)));
        assertFalse(ByteViews.sameMemory(ByteBuffer.wrap(x, 8, 16).slice(), ByteBuffer.wrap(x.clone(), 8, 16)));
        assertFalse(ByteViews.sameMemory(ByteBuffer.wrap(x, 8, 16), ByteBuffer.wrap(x, 9, 16)));
        byte[] y = x.clone();
        y[20] ^= 1;
        assertFalse(ByteViews.sameContent(ByteBuffer.wrap(x, 8, 16), ByteBuffer.wrap(y, 8, 16)), "one byte differs");
        assertTrue(ByteViews.sameContent(ByteBuffer.wrap(x, 0, 16), ByteBuffer.wrap(y, 0, 16)));
    }
    /**
     * Native memory of {@link ByteViews#NATIVE_AT_LEAST} bytes and more is compared by {@code memcmp}: equal and
     * unequal at the first, the middle and the last byte, at lengths that are no multiple of 8, at the threshold and
     * one byte below, both through {@code sameContent} (two direct buffers) and {@code holds} (native memory and a
     * buffer, direct or heap). Oracle: the JDK's {@link ByteBuffer#equals} on heap copies of the same bytes.
     */
    @Test
    void nativeComparisonAgreesWithTheJdkAtEveryDifference() {
        int max = (1 << 20) + 13;
        byte[] r = new byte[max];
        new Random(7).nextBytes(r);
        ByteBuffer x = ByteBuffer.allocateDirect(max).put(0, r);
        for (int n : new int[]{ByteViews.NATIVE_AT_LEAST - 1, ByteViews.NATIVE_AT_LEAST, 4099, 65_537, max}) {
            for (int diff : new int[]{-1, 0, n / 2, n - 1}) { // -1: no difference
                byte[] s = java.util.Arrays.copyOf(r, n);
                if (diff >= 0) {
                    s[diff] ^= (byte) 0x80;
                }
                ByteBuffer y = ByteBuffer.allocateDirect(n).put(0, s);
                boolean oracle = ByteBuffer.wrap(r, 0, n).equals(ByteBuffer.wrap(s));
                assertEquals(diff < 0, oracle); // the oracle sees the change
                String what = n + " bytes, difference at " + diff;
                assertEquals(oracle, ByteViews.sameContent(x.slice(0, n), y), what);
                assertEquals(oracle, ByteViews.sameContent(y, x.slice(0, n).asReadOnlyBuffer()), what);
                com.sun.jna.Pointer p = com.sun.jna.Native.getDirectBufferPointer(x);
                assertEquals(oracle, ByteViews.holds(p, y), what);
                assertEquals(oracle, ByteViews.holds(p, ByteBuffer.wrap(s)), what + " (heap)");
                // an offset into both: neither start aligned
                assertEquals(ByteBuffer.wrap(r, 3, n - 3).equals(ByteBuffer.wrap(s, 3, n - 3)),
                        ByteViews.holds(p.share(3), y.slice(3, n - 3)), what + " from offset 3");
                assertEquals(diff == 0 || diff < 0, ByteViews.sameContent(x.slice(1, n - 1), y.slice(1, n - 1)),
                        what + " from offset 1");
            }
        }
    }
}
