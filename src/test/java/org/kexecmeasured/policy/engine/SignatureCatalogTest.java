package org.kexecmeasured.policy.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.hash.NativeVerifier;
import org.kexecmeasured.policy.secret.PemKeys;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.policy.secret.PemKeysTest.openssl;

/**
 * Signed PCR policies are verified in libcrypto ({@link NativeVerifier}) with the JDK as the fallback: on
 * signatures made by {@code openssl dgst -sign} (RSA and ECDSA, an independent signer) both accept, and on every
 * mutation (a flipped bit at each position class, a changed digest, a truncated or empty signature, another key)
 * both refuse — the two paths give the same answer.
 */
class SignatureCatalogTest {

    @Test
    void libcryptoAndTheJdkAgreeOnOpensslsSignaturesAndTheirMutations(@TempDir Path dir) throws Exception {
        Path rsa = dir.resolve("rsa.pem");
        Files.write(rsa, openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"));
        Path ec = dir.resolve("ec.pem");
        Files.write(ec, openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"));
        PublicKey other = PemKeys.publicKey(new String(openssl(dir, "pkey", "-in", ec.toString(), "-pubout")), "ec");
        for (Path k : List.of(rsa, ec)) {
            PublicKey pub = PemKeys.publicKey(new String(openssl(dir, "pkey", "-in", k.toString(), "-pubout")), k.toString());
            for (int round = 0; round < 3; round++) {
                byte[] pol = new byte[32];
                new SecureRandom().nextBytes(pol);
                Path data = Files.write(dir.resolve("pol"), pol);
                byte[] sig = openssl(dir, "dgst", "-sha256", "-sign", k.toString(), data.toString());
                assertSame(pub, pol, sig, true, k + ": openssl's signature");
                for (int i : new int[]{0, 1, sig.length / 2, sig.length - 1}) {
                    byte[] bad = sig.clone();
                    bad[i] ^= 0x10;
                    assertSame(pub, pol, bad, false, k + ": signature byte " + i + " changed");
                }
                byte[] otherPol = pol.clone();
                otherPol[31] ^= 1;
                assertSame(pub, otherPol, sig, false, k + ": another policy digest");
                assertSame(pub, pol, Arrays.copyOf(sig, sig.length - 1), false, k + ": truncated signature");
                assertSame(pub, pol, new byte[0], false, k + ": empty signature");
                if (k == rsa) assertSame(other, pol, sig, false, k + ": another key");
            }
        }
    }

    /**
     * A key on a curve libcrypto takes but the JDK, the TPM (TPM2_VerifySignature) and systemd do not (secp256k1,
     * brainpool): the catalog's answer is the JDK's (it does not verify), not libcrypto's. openssl signs; the oracle
     * is the JDK's own refusal, and that libcrypto itself would have said yes (so the test can fail).
     */
    @Test
    void aKeyOnACurveTheJdkRefusesNeverVerifiesThroughLibcrypto(@TempDir Path dir) throws Exception {
        for (String curve : new String[]{"secp256k1", "brainpoolP256r1"}) {
            Path k = dir.resolve(curve + ".pem");
            Files.write(k, openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve));
            Path pub = dir.resolve(curve + ".pub");
            Files.write(pub, openssl(dir, "pkey", "-in", k.toString(), "-pubout"));
            byte[] pol = new byte[32];
            new SecureRandom().nextBytes(pol);
            Path polFile = dir.resolve("pol");
            Files.write(polFile, pol);
            byte[] sig = openssl(dir, "dgst", "-sha256", "-sign", k.toString(), polFile.toString());
            PublicKey key = PemKeys.publicKey(Files.readString(pub), curve);
            assertEquals(Boolean.TRUE, NativeVerifier.verify(key.getEncoded(), HashAlg.SHA256, pol, sig),
                    curve + ": libcrypto (Debian package libssl3) verifies openssl's signature");
            assertFalse(SignatureCatalog.jdkVerifies(key, pol, sig), curve + ": the JDK does not");
            PcrSignatures.Entry e = new PcrSignatures.Entry(List.of(11), "00", org.kexecmeasured.util.Hex.of(pol),
                    java.util.Base64.getEncoder().encodeToString(sig));
            assertFalse(SignatureCatalog.verifies(key, e), curve + ": the catalog gives the JDK's answer");
        }
    }

    private static void assertSame(PublicKey key, byte[] pol, byte[] sig, boolean expected, String what) {
        Boolean lib = NativeVerifier.verify(key.getEncoded(), HashAlg.SHA256, pol, sig);
        assertNotNull(lib, what + ": libcrypto (Debian package libssl3) must answer");
        assertEquals(expected, lib, what + " (libcrypto)");
        assertEquals(expected, SignatureCatalog.jdkVerifies(key, pol, sig), what + " (JDK)");
        if (expected) assertTrue(lib);
        else assertFalse(lib);
    }
}
