package org.kexecmeasured.policy.secret;

import org.kexecmeasured.util.BadInputException;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEM keys with the JDK alone: "PUBLIC KEY" (SubjectPublicKeyInfo), "PRIVATE KEY" (PKCS#8) and
 * "RSA PRIVATE KEY" (PKCS#1, wrapped into PKCS#8 here), RSA or EC. Bouncy Castle is not needed on
 * this path: its signed jars cost a jar-signature check at first use, which a one-shot command
 * such as {@code predict} would pay for nothing. Also systemd's key fingerprint.
 */
public final class PemKeys {
    private static final Pattern BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");
    /** DER of AlgorithmIdentifier { rsaEncryption, NULL }. */
    private static final byte[] RSA_ALGID = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01,
            0x01, 0x01, 0x05, 0x00};

    private PemKeys() {
    }

    record Block(String type, byte[] der) {
    }

    static Block block(String pem, String what) {
        Matcher m = BLOCK.matcher(pem);
        if (!m.find()) throw new BadInputException(what + ": no PEM block");
        try {
            return new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2).replaceAll("\\s", "")));
        } catch (IllegalArgumentException e) {
            throw new BadInputException(what + ": the PEM block is not base64");
        }
    }

    /** A "PUBLIC KEY" (RSA or EC). */
    public static PublicKey publicKey(String pem, String what) {
        Block b = block(pem, what);
        if (!b.type().equals("PUBLIC KEY")) throw new BadInputException(what + ": a " + b.type() + ", not a PUBLIC KEY");
        PublicKey k = publicKey(b.der());
        if (k == null) throw new BadInputException(what + ": not an RSA or EC public key");
        return k;
    }

    /** An RSA or EC key of a DER SubjectPublicKeyInfo; null for anything else. */
    public static PublicKey publicKey(byte[] spki) {
        for (String alg : new String[]{"RSA", "EC"}) {
            try {
                return KeyFactory.getInstance(alg).generatePublic(new X509EncodedKeySpec(spki));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        return null;
    }

    /**
     * The curves the JDK's SunEC signs and verifies on (JDK 16 and later dropped the rest): NIST P-256, P-384, P-521.
     * A holder, made at the first EC key (whose KeyFactory loaded SunEC already): an RSA-only run never pays for it.
     */
    private static final class JdkCurves {
        static final java.util.List<java.security.spec.ECParameterSpec> ALL = jdkCurves();
    }

    private static java.util.List<java.security.spec.ECParameterSpec> jdkCurves() {
        java.util.List<java.security.spec.ECParameterSpec> out = new java.util.ArrayList<>();
        for (String name : new String[]{"secp256r1", "secp384r1", "secp521r1"}) {
            try {
                java.security.AlgorithmParameters p = java.security.AlgorithmParameters.getInstance("EC");
                p.init(new java.security.spec.ECGenParameterSpec(name));
                out.add(p.getParameterSpec(java.security.spec.ECParameterSpec.class));
            } catch (GeneralSecurityException e) {
                // a JDK without the curve: keys on it stay with the JDK path, which refuses them
            }
        }
        return java.util.List.copyOf(out);
    }

    /**
     * Whether the JDK path signs and verifies with {@code key} too: RSA, or EC on NIST P-256, P-384 or P-521 (also
     * the curves a TPM and systemd take). OpenSSL's libcrypto also takes keys on other curves (secp256k1,
     * brainpool); where it stands in for the JDK (re-authorization signing, signed-policy verification) it must
     * give the JDK's answer, so it is used only for these keys.
     */
    public static boolean jdkSignatureKey(PublicKey key) {
        if (key instanceof RSAPublicKey) return true;
        if (!(key instanceof ECPublicKey ec)) return false;
        java.security.spec.ECParameterSpec s = ec.getParams();
        for (java.security.spec.ECParameterSpec c : JdkCurves.ALL) {
            if (c.getCurve().equals(s.getCurve()) && c.getGenerator().equals(s.getGenerator())
                    && c.getOrder().equals(s.getOrder()) && c.getCofactor() == s.getCofactor()) {
                return true;
            }
        }
        return false;
    }

    /**
     * The DER of the first unencrypted private-key block — "PRIVATE KEY" (PKCS#8), "RSA PRIVATE KEY" (PKCS#1) or "EC
     * PRIVATE KEY" (SEC 1, often after an "EC PARAMETERS" block) — for OpenSSL's {@code d2i_AutoPrivateKey}, which
     * takes each of them; null when there is none (encrypted, other types: the caller's JDK path words the error).
     * The caller clears the array after use.
     */
    public static byte[] privateKeyDer(byte[] pemBytes) {
        // no String of the PEM (it could not be cleared): the pattern runs over a char array cleared afterwards, and
        // the base64 text is decoded from a byte copy cleared afterwards (US-ASCII: char index = byte index)
        char[] chars = new char[pemBytes.length];
        for (int i = 0; i < chars.length; i++) chars[i] = (char) (pemBytes[i] & 0xff);
        try {
            Matcher m = BLOCK.matcher(java.nio.CharBuffer.wrap(chars));
            while (m.find()) {
                switch (m.group(1)) {
                    case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY" -> {
                        byte[] b64 = java.util.Arrays.copyOfRange(pemBytes, m.start(2), m.end(2));
                        try {
                            return Base64.getMimeDecoder().decode(b64);
                        } catch (IllegalArgumentException e) {
                            return null;
                        } finally {
                            java.util.Arrays.fill(b64, (byte) 0);
                        }
                    }
                    case "ENCRYPTED PRIVATE KEY" -> {
                        return null; // the JDK path refuses it, by name: a key after it must not be taken instead
                    }
                    default -> {
                        // an "EC PARAMETERS" block or another: look further
                    }
                }
            }
            return null;
        } finally {
            java.util.Arrays.fill(chars, '\0');
        }
    }

    /** A "PRIVATE KEY" (PKCS#8) or "RSA PRIVATE KEY" (PKCS#1); null for other types (the caller may try more). */
    public static PrivateKey privateKey(byte[] pemBytes, String what) {
        Block b = block(new String(pemBytes, StandardCharsets.US_ASCII), what);
        byte[] pkcs8;
        switch (b.type()) {
            case "PRIVATE KEY" -> pkcs8 = b.der();
            case "RSA PRIVATE KEY" -> pkcs8 = der(0x30, concat(new byte[]{0x02, 0x01, 0x00}, RSA_ALGID, der(0x04, b.der())));
            case "ENCRYPTED PRIVATE KEY" -> throw new BadInputException(what + ": an encrypted private key; give it unencrypted");
            default -> {
                return null;
            }
        }
        try {
            for (String alg : new String[]{"RSA", "EC"}) {
                try {
                    return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
                } catch (GeneralSecurityException e) {
                    // try the next algorithm
                }
            }
            throw new BadInputException(what + ": not an RSA or EC private key");
        } finally {
            // our copies of the key's bytes are cleared (the JDK key object keeps its own, which Java cannot clear)
            java.util.Arrays.fill(pkcs8, (byte) 0);
            java.util.Arrays.fill(b.der(), (byte) 0);
        }
    }

    /**
     * systemd's key fingerprint "pkfp": SHA-256 of OpenSSL's i2d_PublicKey() — the PKCS#1
     * RSAPublicKey for RSA, the uncompressed point for EC (systemd src/shared/openssl-util.c).
     */
    public static byte[] fingerprint(PublicKey key) {
        return org.kexecmeasured.util.HashAlg.SHA256.digest(i2dPublicKey(key));
    }

    static byte[] i2dPublicKey(PublicKey key) {
        if (key instanceof RSAPublicKey rsa) {
            return der(0x30, concat(integer(rsa.getModulus()), integer(rsa.getPublicExponent())));
        }
        if (key instanceof ECPublicKey ec) {
            int len = (ec.getParams().getCurve().getField().getFieldSize() + 7) / 8;
            return concat(new byte[]{0x04}, fixed(ec.getW().getAffineX(), len), fixed(ec.getW().getAffineY(), len));
        }
        throw new BadInputException("unsupported key type " + key.getAlgorithm());
    }

    private static byte[] integer(BigInteger v) {
        return der(0x02, v.toByteArray());
    }

    private static byte[] fixed(BigInteger v, int len) {
        byte[] b = v.toByteArray();
        byte[] out = new byte[len];
        if (b.length >= len) System.arraycopy(b, b.length - len, out, 0, len);
        else System.arraycopy(b, 0, out, len - b.length, b.length);
        return out;
    }

    static byte[] der(int tag, byte[] content) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(tag);
        int n = content.length;
        if (n < 0x80) {
            o.write(n);
        } else if (n < 0x100) {
            o.write(0x81);
            o.write(n);
        } else if (n < 0x10000) {
            o.write(0x82);
            o.write(n >>> 8);
            o.write(n);
        } else {
            o.write(0x83);
            o.write(n >>> 16);
            o.write(n >>> 8);
            o.write(n);
        }
        o.writeBytes(content);
        return o.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }
}
