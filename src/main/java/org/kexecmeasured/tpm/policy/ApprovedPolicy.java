package org.kexecmeasured.tpm.policy;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;

/**
 * A policy approved for TPM2_PolicyAuthorize: the TPM verifies a signature over
 * aHash = H(approvedPolicy ‖ policyRef). With RSASSA (PKCS#1 v1.5) or ECDSA over that hash, the
 * signature is the standard "SHAxxxwithRSA/ECDSA" signature of the message approvedPolicy ‖ policyRef.
 * ECDSA signatures are held as r ‖ s (TPMS_SIGNATURE_ECDSA), each half of the curve's size.
 */
public record ApprovedPolicy(byte[] approvedPolicy, byte[] policyRef, HashAlg sigHash, byte[] signature) {

    public ApprovedPolicy {
        approvedPolicy = approvedPolicy.clone();
        policyRef = policyRef == null ? new byte[0] : policyRef.clone();
        signature = signature.clone();
    }

    /** aHash = H_sigHash(approvedPolicy ‖ policyRef), the digest the TPM checks the signature against. */
    public static byte[] aHash(HashAlg alg, byte[] approvedPolicy, byte[] policyRef) {
        var md = alg.newDigest();
        md.update(approvedPolicy);
        if (policyRef != null) md.update(policyRef);
        return md.digest();
    }

    public byte[] aHash() {
        return aHash(sigHash, approvedPolicy, policyRef);
    }

    private static String jcaName(HashAlg h, PublicKeyKind kind) {
        String hn = h.jcaName.replace("-", "");
        return hn + "with" + (kind == PublicKeyKind.RSA ? "RSA" : "ECDSA");
    }

    private enum PublicKeyKind { RSA, EC }

    private static PublicKeyKind kind(java.security.Key k) {
        return switch (k.getAlgorithm()) {
            case "RSA" -> PublicKeyKind.RSA;
            case "EC", "ECDSA" -> PublicKeyKind.EC;
            default -> throw new BadInputException("unsupported key algorithm " + k.getAlgorithm());
        };
    }

    /** Signs approvedPolicy ‖ policyRef (for tests and for tools that approve policies). */
    public static ApprovedPolicy sign(PrivateKey key, HashAlg sigHash, byte[] approvedPolicy, byte[] policyRef) {
        try {
            PublicKeyKind kind = kind(key);
            Signature s = Signature.getInstance(jcaName(sigHash, kind));
            s.initSign(key);
            s.update(approvedPolicy);
            if (policyRef != null) s.update(policyRef);
            byte[] sig = s.sign();
            if (kind == PublicKeyKind.EC) {
                int len = (((java.security.interfaces.ECPrivateKey) key).getParams().getCurve().getField().getFieldSize() + 7) / 8;
                sig = derToRaw(sig, len);
            }
            return new ApprovedPolicy(approvedPolicy, policyRef, sigHash, sig);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("signing approved policy: " + e.getMessage(), e);
        }
    }

    /** True when the signature is valid for this key (the check TPM2_VerifySignature makes). */
    public boolean verify(PublicKey key) {
        try {
            PublicKeyKind kind = kind(key);
            Signature s = Signature.getInstance(jcaName(sigHash, kind));
            s.initVerify(key);
            s.update(approvedPolicy);
            s.update(policyRef);
            byte[] sig = signature;
            if (kind == PublicKeyKind.EC) {
                if (sig.length % 2 != 0) return false;
                sig = rawToDer(sig);
            } else if (key instanceof RSAPublicKey rsa && sig.length != (rsa.getModulus().bitLength() + 7) / 8) {
                return false;
            }
            return s.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** The policy digest PolicyAuthorize yields for this key (loaded with nameAlg sha256, as systemd does) and policyRef. */
    public static byte[] authorizedPolicy(HashAlg sessionAlg, PublicKey key, byte[] policyRef) {
        return authorizedPolicy(sessionAlg, key, HashAlg.SHA256, policyRef);
    }

    /** The policy digest PolicyAuthorize yields for this key loaded with nameAlg {@code keyNameAlg}. */
    public static byte[] authorizedPolicy(HashAlg sessionAlg, PublicKey key, HashAlg keyNameAlg, byte[] policyRef) {
        byte[] name = TpmNames.name(keyNameAlg, TpmNames.publicArea(key, keyNameAlg, TpmNames.EXTERNAL_KEY_ATTRIBUTES));
        return PolicyDigest.start(sessionAlg).policyAuthorize(name, policyRef).digest();
    }

    static byte[] derToRaw(byte[] der, int len) {
        // SEQUENCE { INTEGER r, INTEGER s }
        int i = 2;
        if ((der[1] & 0x80) != 0) i = 2 + (der[1] & 0x7F);
        int rl = der[i + 1];
        BigInteger r = new BigInteger(1, java.util.Arrays.copyOfRange(der, i + 2, i + 2 + rl));
        int j = i + 2 + rl;
        int sl = der[j + 1];
        BigInteger s = new BigInteger(1, java.util.Arrays.copyOfRange(der, j + 2, j + 2 + sl));
        byte[] out = new byte[2 * len];
        System.arraycopy(TpmNames.unsigned(r, len), 0, out, 0, len);
        System.arraycopy(TpmNames.unsigned(s, len), 0, out, len, len);
        return out;
    }

    static byte[] rawToDer(byte[] raw) {
        int len = raw.length / 2;
        byte[] r = new BigInteger(1, java.util.Arrays.copyOfRange(raw, 0, len)).toByteArray();
        byte[] s = new BigInteger(1, java.util.Arrays.copyOfRange(raw, len, raw.length)).toByteArray();
        ByteArrayOutputStream seq = new ByteArrayOutputStream();
        derInt(seq, r);
        derInt(seq, s);
        byte[] body = seq.toByteArray();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0x30);
        derLen(o, body.length);
        o.writeBytes(body);
        return o.toByteArray();
    }

    private static void derInt(ByteArrayOutputStream o, byte[] v) {
        o.write(0x02);
        derLen(o, v.length);
        o.writeBytes(v);
    }

    private static void derLen(ByteArrayOutputStream o, int n) {
        if (n < 0x80) {
            o.write(n);
        } else if (n < 0x100) {
            o.write(0x81);
            o.write(n);
        } else {
            o.write(0x82);
            o.write(n >>> 8);
            o.write(n);
        }
    }

    /** Whether this is an EC key (signature is r ‖ s). */
    public static boolean isEc(PublicKey k) {
        return k instanceof ECPublicKey;
    }
}
