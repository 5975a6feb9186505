package org.kexecmeasured.util;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;

/**
 * Content comparison of byte buffers that knows when two of them are views of the same memory. The payload's
 * mapping reaches the run through several views (the emulator's image, a section deferred in guest memory, the
 * hand-off's initrd, the hashing's remembered inputs); comparing a 50 MiB view with another view of the same bytes
 * reads 100 MiB to learn nothing. Two views whose remaining bytes start at the same address (the same array and
 * offset, or the same native address of a direct buffer) and have the same length hold the same bytes: that is an
 * identity of memory, not a guess from names or sizes.
 */
public final class ByteViews {
    private ByteViews() {
    }

    /** True when the remaining bytes of {@code a} and {@code b} are the same memory (so the same bytes). */
    public static boolean sameMemory(ByteBuffer a, ByteBuffer b) {
        if (a.remaining() != b.remaining()) {
            return false;
        }
        if (a.hasArray() && b.hasArray()) {
            return a.array() == b.array() && a.arrayOffset() + a.position() == b.arrayOffset() + b.position();
        }
        if (a.isDirect() && b.isDirect()) {
            try {
                return address(a) == address(b);
            } finally {
                java.lang.ref.Reference.reachabilityFence(a);
                java.lang.ref.Reference.reachabilityFence(b);
            }
        }
        return false; // read-only heap views hide their array: compared by content
    }

    /** {@code a.equals(b)} (the remaining bytes, by content) without reading them when they are the same memory. */
    public static boolean sameContent(ByteBuffer a, ByteBuffer b) {
        return sameMemory(a, b) || a.equals(b);
    }

    /** Native address of the first remaining byte of a direct buffer. */
    private static long address(ByteBuffer b) {
        return Pointer.nativeValue(Native.getDirectBufferPointer(b)) + b.position();
    }
}
