package org.kexecmeasured.policy.reauth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.hash.NativeSigningKey;
import org.kexecmeasured.policy.secret.PemKeys;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.policy.secret.PemKeysTest.openssl;

/**
 * The re-authorization's signing key in OpenSSL's libcrypto ({@link NativeSigningKey}) against two oracles run
 * here: the JDK's {@link Signature} (RSA PKCS#1 v1.5 is deterministic: the same bytes) and {@code openssl dgst
 * -verify} on the public key openssl itself derives from the PEM (every signature, RSA and ECDSA); the public half
 * libcrypto gives equals {@code openssl pkey -pubout}'s. Keys the native path does not take still reach the JDK
 * path and its errors.
 */
class SigningKeyTest {

    private static final List<HashAlg> BANKS = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512);

    private static Path key(Path dir, String name, String... genArgs) throws Exception {
        Path k = dir.resolve(name);
        Files.write(k, openssl(dir, genArgs));
        return k;
    }

    /** Signs a random policy digest per bank natively; each verifies with openssl; RSA equals the JDK's bytes. */
    private static void check(Path dir, Path pem, boolean deterministic) throws Exception {
        Path pub = dir.resolve(pem.getFileName() + ".pub.pem");
        Files.write(pub, openssl(dir, "pkey", "-in", pem.toString(), "-pubout"));
        byte[] pubDer = openssl(dir, "pkey", "-in", pem.toString(), "-pubout", "-outform", "DER");
        PrivateKey jdk = Reauthorizer.jdkPrivateKey(Files.readAllBytes(pem), pem);
        try (SigningKey k = SigningKey.read(pem)) {
            assertTrue(k.isNative(), pem + ": libcrypto (Debian package libssl3) must hold the key");
            assertArrayEquals(pubDer, k.publicKey().getEncoded(), pem + ": the public key is openssl's");
            for (HashAlg bank : BANKS) {
                byte[] pol = new byte[32];
                new SecureRandom().nextBytes(pol);
                byte[] sig = k.sign(bank, pol);
                Path data = Files.write(dir.resolve("pol"), pol);
                Path sigFile = Files.write(dir.resolve("sig"), sig);
                String verified = new String(openssl(dir, "dgst", "-" + bank.tpmName, "-verify", pub.toString(), "-signature",
                        sigFile.toString(), data.toString()));
                assertTrue(verified.contains("Verified OK"), pem + " " + bank + ": " + verified);
                if (deterministic) {
                    assertArrayEquals(Reauthorizer.sign(jdk, bank, pol), sig, pem + " " + bank + ": the JDK's PKCS#1 v1.5 signature");
                } else {
                    Signature v = Signature.getInstance(bank.jcaName.replace("-", "") + "withECDSA");
                    v.initVerify(PemKeys.publicKey(Files.readString(pub), pub.toString()));
                    v.update(pol);
                    assertTrue(v.verify(sig), pem + " " + bank + ": the JDK verifies the ECDSA signature");
                    v.update(pol);
                    assertTrue(v.verify(Reauthorizer.sign(jdk, bank, pol)), pem + " " + bank + ": the JDK path's key is the same key");
                    // a changed digest does not verify: the check can fail
                    pol[0] ^= 1;
                    v.update(pol);
                    assertFalse(v.verify(sig), pem + " " + bank + ": a changed digest must not verify");
                }
            }
        }
    }

    @Test
    void rsaSignaturesEqualTheJdksAndVerifyWithOpenssl(@TempDir Path dir) throws Exception {
        Path pkcs8 = key(dir, "rsa.pem", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048");
        Path pkcs1 = key(dir, "rsa1.pem", "rsa", "-in", pkcs8.toString(), "-traditional");
        assertTrue(Files.readString(pkcs1).contains("BEGIN RSA PRIVATE KEY"));
        check(dir, pkcs8, true);
        check(dir, pkcs1, true);
        check(dir, key(dir, "rsa3072.pem", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"), true);
    }

    @Test
    void ecdsaSignaturesVerifyWithOpensslAndTheJdk(@TempDir Path dir) throws Exception {
        check(dir, key(dir, "p256.pem", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"), false);
        // SEC 1 after an "EC PARAMETERS" block, as `openssl ecparam -genkey` writes it
        Path sec1 = key(dir, "p384.pem", "ecparam", "-name", "secp384r1", "-genkey");
        assertTrue(Files.readString(sec1).contains("BEGIN EC PARAMETERS"));
        assertTrue(Files.readString(sec1).contains("BEGIN EC PRIVATE KEY"));
        check(dir, sec1, false);
    }

    @Test
    void keysLibcryptoDoesNotTakeGoToTheJdkPath(@TempDir Path dir) throws Exception {
        Path rsa = key(dir, "rsa.pem", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048");
        Path enc = key(dir, "enc.pem", "pkey", "-in", rsa.toString(), "-aes128", "-passout", "pass:x");
        BadInputException e = assertThrows(BadInputException.class, () -> SigningKey.read(enc));
        assertTrue(e.getMessage().contains("encrypted private key"), e.getMessage());
        // libcrypto takes an Ed25519 key, but systemd-measure's formats and the JDK path sign with RSA and EC only
        Path ed = key(dir, "ed.pem", "genpkey", "-algorithm", "ED25519");
        e = assertThrows(BadInputException.class, () -> SigningKey.read(ed));
        assertTrue(e.getMessage().contains(ed.toString()), e.getMessage());
        Path junk = Files.writeString(dir.resolve("junk.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        e = assertThrows(BadInputException.class, () -> SigningKey.read(junk));
        assertTrue(e.getMessage().contains(junk.toString()), e.getMessage());
    }

    @Test
    void aKeyWithBytesAfterItsDerIsNotTaken(@TempDir Path dir) throws Exception {
        byte[] der = openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-outform", "DER");
        try (NativeSigningKey k = NativeSigningKey.fromDer(der)) {
            assertNotNull(k, "the DER alone is a key");
        }
        assertNull(NativeSigningKey.fromDer(java.util.Arrays.copyOf(der, der.length + 1)), "a trailing byte: not a key's whole DER");
    }

    /**
     * A key on a curve libcrypto signs on but the JDK (and a TPM, and systemd) do not: it goes to the JDK path, which
     * refuses it as bad input, as before libcrypto signed (openssl makes the key; the JDK's refusal is the oracle).
     */
    @Test
    void aKeyOnACurveTheJdkRefusesIsNotSignedByLibcrypto(@TempDir Path dir) throws Exception {
        for (String curve : new String[]{"secp256k1", "brainpoolP256r1"}) {
            Path k = key(dir, curve + ".pem", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve);
            try (SigningKey s = SigningKey.read(k)) {
                assertFalse(s.isNative(), curve + ": not held by libcrypto");
                assertThrows(BadInputException.class, () -> s.sign(HashAlg.SHA256, new byte[32]), curve);
            } catch (BadInputException refusedWhenRead) {
                // refused as it is read: as good
            }
        }
    }

    /**
     * An encrypted key followed by a plain one: refused as the JDK path refuses it (the first key is encrypted), not
     * signed by libcrypto with the second key.
     */
    @Test
    void anEncryptedKeyBeforeAPlainOneIsRefused(@TempDir Path dir) throws Exception {
        Path rsa = key(dir, "rsa.pem", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048");
        byte[] enc = openssl(dir, "pkey", "-in", rsa.toString(), "-aes256", "-passout", "pass:x");
        Path both = dir.resolve("both.pem");
        Files.write(both, (new String(enc, java.nio.charset.StandardCharsets.US_ASCII) + Files.readString(rsa))
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        BadInputException e = assertThrows(BadInputException.class, () -> SigningKey.read(both));
        assertTrue(e.getMessage().contains("encrypted private key"), e.getMessage());
    }
}
