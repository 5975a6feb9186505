package org.kexecmeasured.util;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Content comparison of byte buffers that knows when two of them are views of the same memory. The payload's
 * mapping reaches the run through several views (the emulator's image, a section deferred in guest memory, the
 * hand-off's initrd, the hashing's remembered inputs); comparing a 50 MiB view with another view of the same bytes
 * reads 100 MiB to learn nothing. Two views whose remaining bytes start at the same address (the same array and
 * offset, or the same native address of a direct buffer) and have the same length hold the same bytes: that is an
 * identity of memory, not a guess from names or sizes.
 * <p>
 * Native memory that must be compared by content (a direct or mapped buffer with another, or with native memory
 * such as guest RAM) goes to libc's {@code memcmp} from {@value #NATIVE_AT_LEAST} bytes on. The JDK's own
 * comparison ({@link ByteBuffer#equals}, {@code ArraysSupport.vectorizedMismatch}) is a vector intrinsic of the C2
 * compiler only; under the launcher's C1-only JIT it is a Java loop of 8-byte reads, first interpreted — a few
 * hundred MB/s, where {@code memcmp} runs at memory speed. Heap arrays, and fewer bytes, stay with the JDK.
 * <p>
 * Except memory mapped from a file ({@link #fileMapped}: the payload's mapping): its file can be truncated under the
 * mapping once a writer has broken the payload's read lease, and a read past the file's end is SIGBUS. In the JDK's
 * comparison HotSpot turns that fault into an {@link InternalError} (which the CLI reports as a changed payload, exit
 * 2); in {@code memcmp} it kills the JVM without an exit code. So a range that overlaps a file mapping is always
 * compared by the JDK.
 */
public final class ByteViews {
    private ByteViews() {
    }

    /**
     * From this many bytes a comparison of native memory calls {@code memcmp}; below it the JNA call and the
     * buffers' addresses cost more than the Java loop they replace.
     */
    public static final int NATIVE_AT_LEAST = 4096;

    /** Whether {@link #memcmp} is bound: without JNA's native part the JDK compares (as before memcmp). */
    private static final boolean NATIVE;

    static {
        // JNA direct mapping: a JNI call into JNA's dispatch, no proxy, no boxing (as uefi/unicorn's UnicornDirect)
        boolean bound;
        try {
            Native.register(ByteViews.class, "c");
            bound = true;
        } catch (LinkageError e) {
            bound = false; // JNA's libjnidispatch not loadable here: every comparison stays with the JDK
        }
        NATIVE = bound;
    }

    /** A file mapping's native range, while its buffer lives (a stale range only sends comparisons to the JDK). */
    private record FileRange(long start, long end, WeakReference<ByteBuffer> mapping) {
    }

    /** The {@link #fileMapped} ranges (few: one per payload opened). */
    private static final List<FileRange> FILE_MAPPED = new CopyOnWriteArrayList<>();

    /**
     * Registers {@code mapping} (a buffer mapped from a file) as memory that {@code memcmp} must never read: see the
     * class comment. Call it before any view of the mapping is handed out.
     */
    public static void fileMapped(ByteBuffer mapping) {
        if (!NATIVE || !mapping.isDirect()) return; // without memcmp nothing reads it natively here
        for (FileRange r : FILE_MAPPED) {
            if (r.mapping().get() == null) FILE_MAPPED.remove(r);
        }
        long start = address(mapping.duplicate().position(0));
        FILE_MAPPED.add(new FileRange(start, start + mapping.capacity(), new WeakReference<>(mapping)));
        java.lang.ref.Reference.reachabilityFence(mapping);
    }

    /** Whether the remaining bytes of {@code b} overlap a {@link #fileMapped} range. */
    public static boolean isFileMapped(ByteBuffer b) {
        if (!NATIVE || !b.isDirect()) return false;
        try {
            return overlapsFileMapping(address(b), b.remaining());
        } finally {
            java.lang.ref.Reference.reachabilityFence(b);
        }
    }

    private static boolean overlapsFileMapping(long start, long length) {
        for (FileRange r : FILE_MAPPED) {
            if (start < r.end() && r.start() < start + length) return true;
        }
        return false;
    }

    /** libc {@code int memcmp(const void *a, const void *b, size_t n)}. */
    private static native int memcmp(Pointer a, Pointer b, long n);

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

    /**
     * {@code a.equals(b)} (the remaining bytes, by content) without reading them when they are the same memory, and
     * by {@code memcmp} when both are native memory of {@link #NATIVE_AT_LEAST} bytes or more and neither is mapped from a
     * file.
     */
    public static boolean sameContent(ByteBuffer a, ByteBuffer b) {
        if (sameMemory(a, b)) {
            return true;
        }
        if (a.remaining() == b.remaining() && a.remaining() >= NATIVE_AT_LEAST && NATIVE && a.isDirect() && b.isDirect()) {
            try {
                long pa = address(a);
                long pb = address(b);
                int n = a.remaining();
                if (!overlapsFileMapping(pa, n) && !overlapsFileMapping(pb, n)) {
                    return memcmp(new Pointer(pa), new Pointer(pb), n) == 0;
                }
            } finally {
                java.lang.ref.Reference.reachabilityFence(a);
                java.lang.ref.Reference.reachabilityFence(b);
            }
        }
        return a.equals(b);
    }

    /**
     * Whether the {@code b.remaining()} bytes of native memory at {@code at} are the remaining bytes of {@code b}:
     * {@code memcmp} when {@code b} is native memory of {@link #NATIVE_AT_LEAST} bytes or more and neither side is
     * mapped from a file, else the JDK's
     * comparison. {@code at} must be readable for that length (the caller's bounds).
     */
    public static boolean holds(Pointer at, ByteBuffer b) {
        int n = b.remaining();
        if (n >= NATIVE_AT_LEAST && NATIVE && b.isDirect()) {
            try {
                long pb = address(b);
                if (!overlapsFileMapping(Pointer.nativeValue(at), n) && !overlapsFileMapping(pb, n)) {
                    return memcmp(at, new Pointer(pb), n) == 0;
                }
            } finally {
                java.lang.ref.Reference.reachabilityFence(b);
            }
        }
        return at.getByteBuffer(0, n).equals(b);
    }

    /** Native address of the first remaining byte of a direct buffer. */
    private static long address(ByteBuffer b) {
        return Pointer.nativeValue(Native.getDirectBufferPointer(b)) + b.position();
    }
}
