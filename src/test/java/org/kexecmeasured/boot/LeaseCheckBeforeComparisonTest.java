package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.GuestBytes;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A broken read lease stops a large measurement before anything reads the payload's mapping, comparisons included:
 * {@code util.ByteViews} compares native memory with libc memcmp, and memcmp reading a mapping truncated under it
 * gets SIGBUS, which ends the JVM (no exit code) where the JDK's comparison threw {@link InternalError} (exit 2 by
 * {@code PayloadFile.isTruncatedMappingFault}). Review of session 8: the measurement of guest bytes that still hold
 * a placed section ({@link GuestBytes#placedView}) and the reuse of remembered digests compared without the check.
 */
class LeaseCheckBeforeComparisonTest {

    /** Large native bytes (a direct buffer, as the payload's mapping is), remembered by a first measurement. */
    private static ByteBuffer remembered(Hashing h) {
        ByteBuffer b = ByteBuffer.allocateDirect(Hashing.LARGE + 4096);
        for (int i = 0; i < b.capacity(); i++) b.put(i, (byte) (i * 31));
        h.digest(b); // hashed and remembered (the lease holds)
        return b;
    }

    private static final Runnable BROKEN = () -> {
        throw new BadInputException("payload: read lease broken");
    };

    @Test
    void theReuseOfRememberedDigestsChecksTheLeaseFirst() {
        Hashing h = new Hashing(List.of(HashAlg.SHA256), 1);
        ByteBuffer b = remembered(h);
        h.beforeLargeRead(BROKEN);
        ByteBuffer other = ByteBuffer.allocateDirect(b.capacity()).put(b.duplicate()).flip(); // compared by content
        assertThrows(BadInputException.class, () -> h.digest(other));
    }

    @Test
    void guestBytesHoldingAPlacedSectionCheckTheLeaseBeforeTheyAreCompared() {
        Hashing h = new Hashing(List.of(HashAlg.SHA256), 1);
        ByteBuffer b = remembered(h);
        h.beforeLargeRead(BROKEN);
        AtomicInteger placedViews = new AtomicInteger();
        GuestBytes guest = new GuestBytes() {
            @Override
            public long length() {
                return b.capacity();
            }

            @Override
            public void forEachPiece(Consumer<ByteBuffer> piece) {
                piece.accept(b.duplicate().clear());
            }

            @Override
            public byte[] head(int n) {
                byte[] o = new byte[n];
                b.duplicate().clear().get(o);
                return o;
            }

            @Override
            public byte[] toArray() {
                return head(b.capacity());
            }

            @Override
            public ByteBuffer placedView() {
                placedViews.incrementAndGet(); // UnicornCpu.placedContent: memcmp of guest RAM with the mapping
                return b.duplicate().clear().asReadOnlyBuffer();
            }
        };
        assertThrows(BadInputException.class, () -> h.digest(guest));
        assertEquals(0, placedViews.get(), "placedView (a memcmp of the payload's mapping) ran before the lease check");
    }
}
