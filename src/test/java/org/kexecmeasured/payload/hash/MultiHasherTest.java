package org.kexecmeasured.payload.hash;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.HashAlg;

import java.util.EnumSet;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The libcrypto path and the JCA path give identical digests, across chunk boundaries and zero-fill. */
class MultiHasherTest {

    @Test
    void nativeLibcryptoLoadsOnDebian() {
        assertTrue(NativeCrypto.available(), "libcrypto (Debian package libssl3) must load through JNA");
    }

    @Test
    void nativeAndJcaAgree() {
        EnumSet<HashAlg> algs = EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512);
        Random r = new Random(5);
        byte[] data = new byte[3 * MultiHasher.CHUNK + 12345];
        r.nextBytes(data);
        for (int[] cut : new int[][]{{0, 0}, {0, 1}, {7, data.length - 9}, {MultiHasher.CHUNK - 3, MultiHasher.CHUNK + 10}}) {
            try (MultiHasher a = MultiHasher.create(algs); MultiHasher b = MultiHasher.createJca(algs)) {
                assertTrue(a instanceof NativeCrypto.Hasher, a.getClass().getName());
                for (MultiHasher h : new MultiHasher[]{a, b}) {
                    h.update(data, cut[0], cut[1]);
                    h.updateZeros(MultiHasher.CHUNK + 77);
                    h.update(data, 0, 5);
                }
                Map<HashAlg, byte[]> x = a.finish();
                Map<HashAlg, byte[]> y = b.finish();
                for (HashAlg alg : algs) assertArrayEquals(y.get(alg), x.get(alg), alg + " " + cut[0] + "+" + cut[1]);
            }
        }
        // and against a single JCA MessageDigest, in small and large updates (the buffer grows lazily)
        try (MultiHasher n = MultiHasher.create(EnumSet.of(HashAlg.SHA256))) {
            n.update(data, 0, 3);
            n.updateZeros(0);
            n.update(data, 3, 100);
            n.update(data, 103, data.length - 103);
            assertArrayEquals(HashAlg.SHA256.digest(data), n.finish().get(HashAlg.SHA256));
        }
    }

    /** Read-only views (how the initrd is handed over) hash in place or chunk by chunk, to the JDK's digests. */
    @Test
    void byteBufferViewsHashLikeTheirBytes() {
        EnumSet<HashAlg> algs = EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        byte[] data = new byte[2 * MultiHasher.CHUNK + 999];
        new Random(9).nextBytes(data);
        int off = 17;
        int len = data.length - off - 5;
        byte[] expected = java.util.Arrays.copyOfRange(data, off, off + len);
        for (boolean jca : new boolean[]{false, true}) {
            for (boolean readOnly : new boolean[]{false, true}) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data, off, len).slice();
                if (readOnly) b = b.asReadOnlyBuffer();
                try (MultiHasher h = jca ? MultiHasher.createJca(algs) : MultiHasher.create(algs)) {
                    h.update(b);
                    assertFalse(b.hasRemaining(), "the buffer is consumed");
                    Map<HashAlg, byte[]> d = h.finish();
                    for (HashAlg alg : algs) {
                        assertArrayEquals(alg.newDigest().digest(expected), d.get(alg), alg + " jca=" + jca + " ro=" + readOnly);
                    }
                }
            }
        }
    }

    @Test
    void useAfterFinishOrCloseThrowsInsteadOfTouchingFreedState() {
        EnumSet<HashAlg> algs = EnumSet.of(HashAlg.SHA1, HashAlg.SHA256);
        byte[] data = new byte[10];
        for (boolean jca : new boolean[]{false, true}) {
            MultiHasher finished = jca ? MultiHasher.createJca(algs) : MultiHasher.create(algs);
            finished.update(data, 0, data.length);
            finished.finish();
            MultiHasher closed = jca ? MultiHasher.createJca(algs) : MultiHasher.create(algs);
            closed.update(data, 0, data.length);
            closed.close();
            for (MultiHasher h : new MultiHasher[]{finished, closed}) {
                assertThrows(IllegalStateException.class, () -> h.update(data, 0, data.length), "jca=" + jca);
                assertThrows(IllegalStateException.class, () -> h.updateZeros(5), "jca=" + jca);
                assertThrows(IllegalStateException.class, h::finish, "jca=" + jca);
                h.close(); // closing twice is harmless
            }
        }
    }

    @Test
    void nativeBufferIsLazyAndFreedOnClose() {
        NativeCrypto.Hasher h = (NativeCrypto.Hasher) MultiHasher.create(EnumSet.of(HashAlg.SHA256));
        assertFalse(h.holdsBuffer(), "no native buffer before the first update");
        h.update(new byte[7], 0, 7);
        assertTrue(h.holdsBuffer());
        h.close();
        assertFalse(h.holdsBuffer(), "close must free the native buffer");
        NativeCrypto.Hasher f = (NativeCrypto.Hasher) MultiHasher.create(EnumSet.of(HashAlg.SHA256));
        f.updateZeros(3);
        assertArrayEquals(HashAlg.SHA256.digest(new byte[3]), f.finish().get(HashAlg.SHA256));
        assertFalse(f.holdsBuffer(), "finish must free the native buffer");
    }
}
