package org.kexecmeasured.tpm.policy;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;

/**
 * TPM object and NV index Names in pure Java: Name = u16 nameAlg ‖ H_nameAlg(marshalled public area).
 * The public areas built here are the ones used to load an external verification key (as systemd
 * and tpm2_loadexternal do): no symmetric algorithm, no scheme, attributes decrypt|sign|userWithAuth.
 */
public final class TpmNames {
    public static final int TPM_ALG_RSA = 0x0001;
    public static final int TPM_ALG_ECC = 0x0023;
    public static final int TPM_ALG_NULL = 0x0010;
    public static final int TPMA_OBJECT_USERWITHAUTH = 0x00000040;
    public static final int TPMA_OBJECT_DECRYPT = 0x00020000;
    public static final int TPMA_OBJECT_SIGN_ENCRYPT = 0x00040000;
    /** Attributes systemd (tpm2-util) and tpm2_loadexternal give a loaded public verification key. */
    public static final int EXTERNAL_KEY_ATTRIBUTES = TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
    public static final int TPM_ECC_NIST_P256 = 0x0003;
    public static final int TPM_ECC_NIST_P384 = 0x0004;
    public static final int TPM_ECC_NIST_P521 = 0x0005;

    private TpmNames() {
    }

    /** Name from a marshalled TPMT_PUBLIC / TPMS_NV_PUBLIC. */
    public static byte[] name(HashAlg nameAlg, byte[] publicArea) {
        byte[] h = nameAlg.digest(publicArea);
        byte[] out = new byte[2 + h.length];
        out[0] = (byte) (nameAlg.algId >>> 8);
        out[1] = (byte) nameAlg.algId;
        System.arraycopy(h, 0, out, 2, h.length);
        return out;
    }

    /**
     * TPMT_PUBLIC of an external RSA or ECC public key, with the given attributes. The RSA exponent
     * is written as its value (65537 too), as tpm2_loadexternal does (checked by a test against
     * the TPM); {@link #publicArea(PublicKey, HashAlg, int, boolean)} can write 0 for 65537 instead,
     * the spec's "default exponent" form that some TSSs (go-tpm) use — the Name differs.
     */
    public static byte[] publicArea(PublicKey key, HashAlg nameAlg, int attributes) {
        return publicArea(key, nameAlg, attributes, false);
    }

    public static byte[] publicArea(PublicKey key, HashAlg nameAlg, int attributes, boolean zeroForDefaultExponent) {
        Out o = new Out();
        if (key instanceof RSAPublicKey rsa) {
            o.u16(TPM_ALG_RSA).u16(nameAlg.algId).u32(attributes).u16(0);
            o.u16(TPM_ALG_NULL); // symmetric
            o.u16(TPM_ALG_NULL); // scheme
            int bits = rsa.getModulus().bitLength();
            o.u16(bits);
            BigInteger e = rsa.getPublicExponent();
            if (e.bitLength() > 32) throw new BadInputException("RSA public exponent does not fit a TPM key");
            o.u32(zeroForDefaultExponent && e.equals(BigInteger.valueOf(65537)) ? 0 : e.intValue());
            o.sized(unsigned(rsa.getModulus(), (bits + 7) / 8));
        } else if (key instanceof ECPublicKey ec) {
            int fieldBits = ec.getParams().getCurve().getField().getFieldSize();
            int curve = switch (fieldBits) {
                case 256 -> TPM_ECC_NIST_P256;
                case 384 -> TPM_ECC_NIST_P384;
                case 521 -> TPM_ECC_NIST_P521;
                default -> throw new BadInputException("unsupported EC curve with " + fieldBits + "-bit field");
            };
            int len = (fieldBits + 7) / 8;
            o.u16(TPM_ALG_ECC).u16(nameAlg.algId).u32(attributes).u16(0);
            o.u16(TPM_ALG_NULL); // symmetric
            o.u16(TPM_ALG_NULL); // scheme
            o.u16(curve);
            o.u16(TPM_ALG_NULL); // kdf
            o.sized(unsigned(ec.getW().getAffineX(), len));
            o.sized(unsigned(ec.getW().getAffineY(), len));
        } else {
            throw new BadInputException("unsupported public key type " + key.getAlgorithm());
        }
        return o.bytes();
    }

    /** Name of an external verification key as loaded by systemd / tpm2_loadexternal (nameAlg sha256). */
    public static byte[] externalKeyName(PublicKey key) {
        return name(HashAlg.SHA256, publicArea(key, HashAlg.SHA256, EXTERNAL_KEY_ATTRIBUTES));
    }

    /** TPMS_NV_PUBLIC: nvIndex, nameAlg, attributes, authPolicy, dataSize. */
    public static byte[] nvPublic(int nvIndex, HashAlg nameAlg, int attributes, byte[] authPolicy, int dataSize) {
        return new Out().u32(nvIndex).u16(nameAlg.algId).u32(attributes).sized(authPolicy).u16(dataSize).bytes();
    }

    public static byte[] nvName(int nvIndex, HashAlg nameAlg, int attributes, byte[] authPolicy, int dataSize) {
        return name(nameAlg, nvPublic(nvIndex, nameAlg, attributes, authPolicy, dataSize));
    }

    static byte[] unsigned(BigInteger v, int len) {
        byte[] b = v.toByteArray();
        if (b.length == len) return b;
        byte[] out = new byte[len];
        if (b.length > len) {
            // leading sign byte
            System.arraycopy(b, b.length - len, out, 0, len);
        } else {
            System.arraycopy(b, 0, out, len - b.length, b.length);
        }
        return out;
    }

    private static final class Out {
        private final ByteArrayOutputStream b = new ByteArrayOutputStream();

        Out u16(int v) {
            b.write(v >>> 8);
            b.write(v);
            return this;
        }

        Out u32(int v) {
            return u16(v >>> 16).u16(v & 0xFFFF);
        }

        Out sized(byte[] d) {
            u16(d.length);
            b.writeBytes(d);
            return this;
        }

        byte[] bytes() {
            return b.toByteArray();
        }
    }
}
