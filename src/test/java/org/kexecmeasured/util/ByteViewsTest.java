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
}
