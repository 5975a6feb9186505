package org.kexecmeasured.util;

import org.junit.jupiter.api.Test;

import java.security.MessageDigest;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * {@link HashAlg#digest} and {@link HashAlg#extend} go to OpenSSL ({@link NativeDigest}) for small inputs: they must
 * be the JDK's digests, byte for byte. Oracle: the JDK's {@link MessageDigest} of the same bytes (an extend as two
 * updates), at lengths around SHA-1/SHA-256's 64-byte and SHA-384/512's 128-byte blocks and their padding limits,
 * empty input, and on both sides of the one-shot limit.
 */
class HashAlgTest {

    private static final HashAlg[] NATIVE = {HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512};

    @Test
    void openSslComputesTheBanksDigestsHere() {
        for (HashAlg a : NATIVE) {
            assertNotNull(NativeDigest.digest(a, new byte[1]),
                    a + ": libcrypto (Debian package libssl3) must be loadable for the one-shot digests");
        }
    }

    @Test
    void digestsAreTheJdks() throws Exception {
        Random r = new Random(14);
        int[] lengths = {0, 1, 20, 32, 48, 55, 56, 63, 64, 65, 96, 111, 112, 119, 127, 128, 129, 255, 4099,
                HashAlg.ONE_SHOT_AT_MOST, HashAlg.ONE_SHOT_AT_MOST + 1};
        for (HashAlg a : NATIVE) {
            for (int n : lengths) {
                byte[] data = new byte[n];
                r.nextBytes(data);
                byte[] want = MessageDigest.getInstance(a.jcaName).digest(data);
                assertArrayEquals(want, a.digest(data), a + " of " + n + " bytes");
                assertArrayEquals(want, a.digest(data, 0, n), a + " of " + n + " bytes (whole range)");
                if (n > 2) {
                    MessageDigest md = MessageDigest.getInstance(a.jcaName);
                    md.update(data, 1, n - 2);
                    assertArrayEquals(md.digest(), a.digest(data, 1, n - 2), a + " of " + (n - 2) + " bytes at 1");
                }
            }
        }
    }

    @Test
    void extendIsTheDigestOfOldThenNew() throws Exception {
        Random r = new Random(15);
        for (HashAlg a : NATIVE) {
            byte[] pcr = new byte[a.size];
            for (int i = 0; i < 50; i++) {
                byte[] d = new byte[a.size];
                r.nextBytes(d);
                MessageDigest md = MessageDigest.getInstance(a.jcaName);
                md.update(pcr);
                md.update(d);
                byte[] want = md.digest();
                pcr = a.extend(pcr, d);
                assertArrayEquals(want, pcr, a + " extend " + i);
            }
        }
    }
}
