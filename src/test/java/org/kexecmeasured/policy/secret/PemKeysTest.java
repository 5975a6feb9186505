package org.kexecmeasured.policy.secret;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Hex;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEM keys without Bouncy Castle, against openssl: PKCS#8 and PKCS#1 RSA, PKCS#8 EC private keys
 * pair with their public keys (a signature made with one verifies with the other), and systemd's
 * key fingerprint equals SHA-256 of what openssl prints as the RSAPublicKey / the EC point.
 */
public class PemKeysTest {

    /** Runs openssl in {@code dir}; fails (naming the Debian package) unless it exits 0; its stdout. */
    public static byte[] openssl(Path dir, String... args) throws Exception {
        Path out = dir.resolve("openssl.out");
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "openssl " + String.join(" ", args) + " (Debian package openssl)");
        return Files.readAllBytes(out);
    }

    static String sha256(byte[] b) {
        return Hex.of(org.kexecmeasured.util.HashAlg.SHA256.digest(b));
    }

    /**
     * privateKeyDer (which never makes a String of the PEM) gives the DER openssl itself decodes: PKCS#8 as {@code
     * openssl pkcs8 -topk8 -nocrypt -outform DER} writes it, SEC 1 after an "EC PARAMETERS" block as {@code openssl ec -outform DER}
     * does; null for a PEM without a private key.
     */
    @Test
    void privateKeyDerIsOpensslsDer(@TempDir Path dir) throws Exception {
        Path p8 = dir.resolve("p8.pem");
        Files.write(p8, openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"));
        org.junit.jupiter.api.Assertions.assertArrayEquals(openssl(dir, "pkcs8", "-topk8", "-nocrypt", "-in", p8.toString(), "-outform", "DER"),
                PemKeys.privateKeyDer(Files.readAllBytes(p8)));
        Path sec1 = dir.resolve("sec1.pem");
        Files.write(sec1, openssl(dir, "ecparam", "-name", "prime256v1", "-genkey"));
        assertTrue(Files.readString(sec1).contains("BEGIN EC PARAMETERS"));
        org.junit.jupiter.api.Assertions.assertArrayEquals(openssl(dir, "ec", "-in", sec1.toString(), "-outform", "DER"),
                PemKeys.privateKeyDer(Files.readAllBytes(sec1)));
        Path pub = dir.resolve("pub.pem");
        Files.write(pub, openssl(dir, "pkey", "-in", p8.toString(), "-pubout"));
        org.junit.jupiter.api.Assertions.assertNull(PemKeys.privateKeyDer(Files.readAllBytes(pub)));
    }

    @Test
    void keysAndFingerprintsAgreeWithOpenssl(@TempDir Path dir) throws Exception {
        Path rsa = dir.resolve("rsa.pem");
        Files.write(rsa, openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"));
        Path rsa1 = dir.resolve("rsa1.pem");
        Files.write(rsa1, openssl(dir, "rsa", "-in", rsa.toString(), "-traditional"));
        assertTrue(Files.readString(rsa1).contains("BEGIN RSA PRIVATE KEY"));
        Path ec = dir.resolve("ec.pem");
        Files.write(ec, openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"));
        for (Path k : List.of(rsa, rsa1, ec)) {
            PrivateKey priv = PemKeys.privateKey(Files.readAllBytes(k), k.toString());
            PublicKey pub = PemKeys.publicKey(new String(openssl(dir, "pkey", "-in", k.toString(), "-pubout")), k.toString());
            Signature s = Signature.getInstance(priv.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA");
            s.initSign(priv);
            s.update(new byte[]{1, 2, 3});
            byte[] sig = s.sign();
            s.initVerify(pub);
            s.update(new byte[]{1, 2, 3});
            assertTrue(s.verify(sig), k + ": private and public key pair");
        }
        PublicKey rsaPub = PemKeys.publicKey(new String(openssl(dir, "pkey", "-in", rsa.toString(), "-pubout")), "rsa");
        assertEquals(sha256(openssl(dir, "rsa", "-in", rsa.toString(), "-RSAPublicKey_out", "-outform", "DER")), Hex.of(PemKeys.fingerprint(rsaPub)));
        PublicKey ecPub = PemKeys.publicKey(new String(openssl(dir, "pkey", "-in", ec.toString(), "-pubout")), "ec");
        byte[] spki = openssl(dir, "pkey", "-in", ec.toString(), "-pubout", "-outform", "DER");
        byte[] point = java.util.Arrays.copyOfRange(spki, spki.length - 65, spki.length); // P-256: 04 ‖ X ‖ Y ends the SPKI
        assertEquals(sha256(point), Hex.of(PemKeys.fingerprint(ecPub)));

        BadInputException e = assertThrows(BadInputException.class, () -> PemKeys.publicKey("not pem", "k.pem"));
        assertTrue(e.getMessage().startsWith("k.pem: no PEM block"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> PemKeys.publicKey(Files.readString(rsa), "k.pem"));
        assertTrue(e.getMessage().contains("a PRIVATE KEY, not a PUBLIC KEY"), e.getMessage());
    }
}
