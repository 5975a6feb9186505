package org.kexecmeasured.tpm;

import org.kexecmeasured.util.HashAlg;

import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;

/**
 * The key derivations and ciphers of TPM 2.0 authorization sessions (TPM 2.0 Part 1, 11.4.10 KDFa
 * / KDFe, 19.6 HMAC, 21 parameter encryption, Annex C.6.1 ECDH salt). Pure functions on byte arrays;
 * callers clear what they hold.
 */
final class SessionCrypto {
    private SessionCrypto() {
    }

    /** KDFa (SP 800-108 counter mode with HMAC): bits of K = HMAC(key, i ‖ label ‖ 00 ‖ contextU ‖ contextV ‖ bits). */
    static byte[] kdfa(HashAlg h, byte[] key, String label, byte[] contextU, byte[] contextV, int bits) {
        int bytes = (bits + 7) / 8;
        byte[] out = new byte[bytes];
        byte[] lbl = (label + "\0").getBytes(StandardCharsets.US_ASCII);
        int off = 0;
        for (int i = 1; off < bytes; i++) {
            byte[] k = hmac(h, key, be32(i), lbl, contextU, contextV, be32(bits));
            int n = Math.min(k.length, bytes - off);
            System.arraycopy(k, 0, out, off, n);
            Arrays.fill(k, (byte) 0);
            off += n;
        }
        return out;
    }

    /** KDFe (SP 800-56A concatenation KDF): H(i ‖ Z ‖ label ‖ 00 ‖ partyUInfo ‖ partyVInfo), truncated to bits. */
    static byte[] kdfe(HashAlg h, byte[] z, String label, byte[] partyU, byte[] partyV, int bits) {
        int bytes = (bits + 7) / 8;
        byte[] out = new byte[bytes];
        byte[] lbl = (label + "\0").getBytes(StandardCharsets.US_ASCII);
        int off = 0;
        for (int i = 1; off < bytes; i++) {
            MessageDigest md = h.newDigest();
            md.update(be32(i));
            md.update(z);
            md.update(lbl);
            md.update(partyU);
            md.update(partyV);
            byte[] d = md.digest();
            int n = Math.min(d.length, bytes - off);
            System.arraycopy(d, 0, out, off, n);
            off += n;
        }
        return out;
    }

    static byte[] hmac(HashAlg h, byte[] key, byte[]... parts) {
        try {
            String name = "Hmac" + h.jcaName.replace("-", "");
            Mac mac = Mac.getInstance(name);
            // an empty key is legal for the TPM; JCA refuses zero-length keys, and HMAC pads keys with zeros anyway
            mac.init(new SecretKeySpec(key.length == 0 ? new byte[1] : key, name));
            for (byte[] p : parts) mac.update(p);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-" + h.tpmName + " unavailable", e);
        }
    }

    /** AES in full-block CFB mode (TPM_ALG_CFB), the session symmetric algorithm for parameter encryption. */
    static byte[] aesCfb(boolean encrypt, byte[] key, byte[] iv, byte[] data) {
        try {
            Cipher c = Cipher.getInstance("AES/CFB/NoPadding");
            c.init(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
            return c.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-CFB unavailable", e);
        }
    }

    /** The salt of an ECC-salted session and the encrypted form (TPMS_ECC_POINT of the ephemeral key) the TPM gets. */
    record EccSalt(byte[] salt, byte[] encryptedSalt) {
    }

    /**
     * Annex C.6.1: an ephemeral key on the tpmKey's curve; Z = x of d_e·Q_s; salt = KDFe(nameAlg, Z,
     * "SECRET", Q_e.x, Q_s.x, digest bits of nameAlg). P-256 only (the SRK template).
     */
    static EccSalt eccSalt(HashAlg nameAlg, byte[] qsX, byte[] qsY, SecureRandom random) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), random);
            KeyPair e = g.generateKeyPair();
            AlgorithmParameters ap = AlgorithmParameters.getInstance("EC");
            ap.init(new ECGenParameterSpec("secp256r1"));
            ECParameterSpec spec = ap.getParameterSpec(ECParameterSpec.class);
            ECPublicKey qs = (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(
                    new ECPublicKeySpec(new ECPoint(new BigInteger(1, qsX), new BigInteger(1, qsY)), spec));
            KeyAgreement ka = KeyAgreement.getInstance("ECDH");
            ka.init(e.getPrivate());
            ka.doPhase(qs, true);
            byte[] z = ka.generateSecret();
            ECPoint qe = ((ECPublicKey) e.getPublic()).getW();
            byte[] qeX = fixed(qe.getAffineX(), 32);
            byte[] qeY = fixed(qe.getAffineY(), 32);
            byte[] salt = kdfe(nameAlg, z, "SECRET", qeX, fixed(new BigInteger(1, qsX), 32), nameAlg.size * 8);
            Arrays.fill(z, (byte) 0);
            byte[] point = new byte[2 + 32 + 2 + 32];
            point[1] = 32;
            System.arraycopy(qeX, 0, point, 2, 32);
            point[35] = 32;
            System.arraycopy(qeY, 0, point, 36, 32);
            return new EccSalt(salt, point);
        } catch (GeneralSecurityException ex) {
            throw new IllegalStateException("ECDH on P-256 unavailable", ex);
        }
    }

    static byte[] fixed(BigInteger v, int len) {
        byte[] b = v.toByteArray();
        if (b.length == len) return b;
        byte[] out = new byte[len];
        if (b.length > len) System.arraycopy(b, b.length - len, out, 0, len);
        else System.arraycopy(b, 0, out, len - b.length, b.length);
        return out;
    }

    static byte[] be32(int v) {
        return new byte[]{(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] o = new byte[n];
        int off = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, o, off, p.length);
            off += p.length;
        }
        return o;
    }
}
