package org.kexecmeasured.payload.hash;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.HashAlg;

import java.util.EnumSet;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
            MultiHasher a = MultiHasher.create(algs);
            MultiHasher b = MultiHasher.createJca(algs);
            for (MultiHasher h : new MultiHasher[]{a, b}) {
                h.update(data, cut[0], cut[1]);
                h.updateZeros(MultiHasher.CHUNK + 77);
                h.update(data, 0, 5);
            }
            Map<HashAlg, byte[]> x = a.finish();
            Map<HashAlg, byte[]> y = b.finish();
            for (HashAlg alg : algs) assertArrayEquals(y.get(alg), x.get(alg), alg + " " + cut[0] + "+" + cut[1]);
        }
        // and against a single JCA MessageDigest
        MultiHasher n = MultiHasher.create(EnumSet.of(HashAlg.SHA256));
        n.update(data, 0, data.length);
        assertArrayEquals(HashAlg.SHA256.digest(data), n.finish().get(HashAlg.SHA256));
    }
}
