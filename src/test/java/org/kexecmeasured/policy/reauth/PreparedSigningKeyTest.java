package org.kexecmeasured.policy.reauth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.policy.PolicyEngine;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyParser;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.policy.secret.PemKeysTest.openssl;

/**
 * The re-authorization's signing key read when the policy is prepared ({@link PolicyEngine#prepare(PolicyFile,
 * org.kexecmeasured.tpm.PublicAreaReader, boolean)}): {@code predict} keeps it for the evaluation (not read a second
 * time: it still signs once its file is gone, and openssl verifies the signature with the public key it derives
 * from the PEM), and it is freed when the prepared policy is closed (a later signature is refused); {@code boot}'s
 * preparation keeps none (no private key is held while the payload is emulated), and a bad key is bad input at
 * preparation either way.
 */
class PreparedSigningKeyTest {

    /** A policy re-authorizing a LUKS2 image (cryptsetup luksFormat, fast PBKDF; no token: nothing in a TPM). */
    private static Path policy(Path dir, String key) throws Exception {
        Path img = dir.resolve("disk.img");
        Path pass = Files.writeString(dir.resolve("pass"), "test");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(32 << 20);
        }
        Process c = new ProcessBuilder("cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2",
                "--pbkdf-force-iterations", "1000", "--key-file", pass.toString(), img.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(c.waitFor(120, java.util.concurrent.TimeUnit.SECONDS) && c.exitValue() == 0,
                "cryptsetup luksFormat (Debian package cryptsetup-bin)");
        Path p = dir.resolve("policy.yaml");
        Files.writeString(p, "version: 1\nsecrets:\n  - {name: disk, must-remain: any, source: {luks2: disk.img}}\n"
                + "reauthorize:\n  signing-key: " + key + "\n  secrets: [disk]\n");
        return p;
    }

    @Test
    void theKeyReadAtPreparationSignsAndIsFreedOnClose(@TempDir Path dir) throws Exception {
        Path key = dir.resolve("sign.pem");
        Files.write(key, openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"));
        Path pub = dir.resolve("sign.pub.pem");
        Files.write(pub, openssl(dir, "pkey", "-in", key.toString(), "-pubout"));
        PolicyFile policy = PolicyParser.read(policy(dir, "sign.pem"));

        PolicyEngine.Prepared prepared = PolicyEngine.prepare(policy, null, true);
        SigningKey kept = prepared.signingKey();
        assertNotNull(kept, "predict's preparation keeps the key");
        Files.delete(key); // read once: the evaluation signs with what the preparation read
        byte[] pol = new byte[32];
        new SecureRandom().nextBytes(pol);
        byte[] sig = kept.sign(HashAlg.SHA256, pol);
        Path data = Files.write(dir.resolve("pol"), pol);
        Path sigFile = Files.write(dir.resolve("sig"), sig);
        String verified = new String(openssl(dir, "dgst", "-sha256", "-verify", pub.toString(), "-signature", sigFile.toString(),
                data.toString()));
        assertTrue(verified.contains("Verified OK"), verified);

        assertTrue(kept.isNative(), "libcrypto (Debian package libssl3) must hold the key");
        prepared.close();
        assertThrows(IllegalStateException.class, () -> kept.sign(HashAlg.SHA256, pol), "the key is freed once closed");
        prepared.close(); // again: nothing
    }

    @Test
    void bootsPreparationKeepsNoKeyAndABadKeyIsBadInputEitherWay(@TempDir Path dir) throws Exception {
        Path key = dir.resolve("sign.pem");
        Files.write(key, openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"));
        PolicyFile policy = PolicyParser.read(policy(dir, "sign.pem"));
        try (PolicyEngine.Prepared p = PolicyEngine.prepare(policy, null)) {
            assertNull(p.signingKey(), "boot's preparation holds no private key across the plan");
        }
        Files.writeString(key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        for (boolean keep : new boolean[]{true, false}) {
            BadInputException e = assertThrows(BadInputException.class, () -> PolicyEngine.prepare(policy, null, keep));
            assertTrue(e.getMessage().contains(key.toString()), e.getMessage());
        }
    }
}
