package org.kexecmeasured.uefi.spi;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * A range of guest memory handed to the host without copying it whole: what HashLogExtendEvent gives
 * the measurer. The initrd systemd-stub measures is 50 MiB and more; hashing it piece by piece out of
 * guest memory needs no host array of that size (and none of the page faults and zeroing one costs).
 * Valid only during the service call that made it: the guest may change the memory afterwards.
 */
public interface GuestBytes {

    /** Bytes in the range. */
    long length();

    /**
     * Feeds the bytes in order, in pieces of at most {@link GuestMemory#PIECE} bytes. Each piece is a read-only
     * buffer whose content is valid only until {@code piece} returns (it is reused for the next one).
     */
    void forEachPiece(Consumer<ByteBuffer> piece);

    /** The first {@code n} bytes (all of them when fewer), copied: a look at a header without reading the rest. */
    byte[] head(int n);

    /** The bytes as one host array (for consumers that need them whole, such as an Authenticode digest). */
    byte[] toArray();

    /**
     * The bytes as a read-only buffer that keeps what they are now after the call (the guest may change its memory
     * later): a view of the unchanging host bytes guest memory was placed from when it still holds exactly them
     * ({@link GuestMemory#placedContent}: a payload section, nothing copied), else a copy ({@link #toArray}).
     */
    default ByteBuffer snapshot() {
        return ByteBuffer.wrap(toArray()).asReadOnlyBuffer();
    }

    /**
     * The bytes as a read-only view of the unchanging host bytes guest memory was placed from, when it still holds
     * exactly them ({@link GuestMemory#placedContent}: a payload section the guest has not changed), else null: never
     * a copy. A measurer hashing such a view reads the host bytes where they lie, and finds digests of the same
     * memory computed before by identity instead of reading guest memory out and comparing it.
     */
    default ByteBuffer placedView() {
        return null;
    }

    /** Host bytes as a GuestBytes (tests, and callers that already hold a copy). */
    static GuestBytes of(byte[] b) {
        return new GuestBytes() {
            @Override
            public long length() {
                return b.length;
            }

            @Override
            public void forEachPiece(Consumer<ByteBuffer> piece) {
                for (int off = 0; off < b.length; off += GuestMemory.PIECE) {
                    piece.accept(ByteBuffer.wrap(b, off, Math.min(GuestMemory.PIECE, b.length - off)).slice().asReadOnlyBuffer());
                }
            }

            @Override
            public byte[] head(int n) {
                return java.util.Arrays.copyOf(b, Math.min(n, b.length));
            }

            @Override
            public byte[] toArray() {
                return b.clone();
            }
        };
    }
}
