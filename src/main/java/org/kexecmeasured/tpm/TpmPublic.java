package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.policy.TpmNames;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BeReader;
import org.kexecmeasured.util.HashAlg;

import java.util.Arrays;

/**
 * A TPMT_PUBLIC (TPM 2.0 Part 2, 12.2.4) parsed strictly: the fields the policy engine needs
 * (type, nameAlg, objectAttributes, authPolicy) and the exact marshalled bytes, whose hash is the
 * object's Name. Parameters and unique are checked for their layout and kept raw.
 *
 * @param area the marshalled TPMT_PUBLIC (without the TPM2B size)
 */
public record TpmPublic(int type, HashAlg nameAlg, int attributes, byte[] authPolicy, byte[] area) {
    public static final int TPM_ALG_RSA = 0x0001;
    public static final int TPM_ALG_KEYEDHASH = 0x0008;
    public static final int TPM_ALG_ECC = 0x0023;
    public static final int TPM_ALG_SYMCIPHER = 0x0025;
    public static final int TPM_ALG_NULL = 0x0010;
    private static final int TPM_ALG_HMAC = 0x0005;
    private static final int TPM_ALG_XOR = 0x000A;
    private static final int TPM_ALG_ECDAA = 0x001A;
    private static final int TPM_ALG_RSAES = 0x0015;
    /** TPMA_OBJECT bits (Part 2, 8.3). */
    public static final int FIXED_TPM = 0x00000002;
    public static final int FIXED_PARENT = 0x00000010;
    public static final int USER_WITH_AUTH = 0x00000040;
    public static final int ADMIN_WITH_POLICY = 0x00000080;
    public static final int NO_DA = 0x00000400;
    /** Largest digest (sha512) and the largest keys a TPM holds. */
    private static final int MAX_DIGEST = 64;
    private static final int MAX_RSA_BYTES = 512;
    private static final int MAX_ECC_BYTES = 66;

    public TpmPublic {
        authPolicy = authPolicy.clone();
        area = area.clone();
    }

    @Override
    public byte[] authPolicy() {
        return authPolicy.clone();
    }

    @Override
    public byte[] area() {
        return area.clone();
    }

    /** Name = nameAlg ‖ H_nameAlg(TPMT_PUBLIC). */
    public byte[] name() {
        return TpmNames.name(nameAlg, area);
    }

    /** A sealed data object: KEYEDHASH without a signing/HMAC scheme. */
    public boolean isSealedData() {
        return type == TPM_ALG_KEYEDHASH;
    }

    /** Only a policy session can authorize the object's user role (no userWithAuth). */
    public boolean policyOnly() {
        return (attributes & USER_WITH_AUTH) == 0;
    }

    public String typeName() {
        return switch (type) {
            case TPM_ALG_RSA -> "RSA key";
            case TPM_ALG_ECC -> "ECC key";
            case TPM_ALG_KEYEDHASH -> "keyed-hash (sealed data) object";
            case TPM_ALG_SYMCIPHER -> "symmetric key";
            default -> String.format("type 0x%04x", type);
        };
    }

    /** A TPM2B_PUBLIC (u16 size ‖ TPMT_PUBLIC), e.g. the file tpm2_create -u writes; the size must fit exactly. */
    public static TpmPublic fromTpm2b(byte[] b, String what) {
        BeReader r = new BeReader(b, what);
        TpmPublic p = read(r);
        r.expectEnd();
        return p;
    }

    /** Reads a TPM2B_PUBLIC at the reader's position (the reader moves past it). */
    public static TpmPublic read(BeReader r) {
        int size = r.u16("TPM2B_PUBLIC size");
        if (size == 0) throw r.error("empty TPM2B_PUBLIC");
        byte[] area = r.bytes(size, "TPMT_PUBLIC");
        return parseArea(area, r.what());
    }

    /** Parses a marshalled TPMT_PUBLIC, which must be consumed exactly. */
    public static TpmPublic parseArea(byte[] area, String what) {
        BeReader r = new BeReader(area, what + " TPMT_PUBLIC");
        int type = r.u16("type");
        int nameAlgId = r.u16("nameAlg");
        HashAlg nameAlg = HashAlg.fromAlgId(nameAlgId);
        if (nameAlg == null) throw r.error(String.format("nameAlg 0x%04x is not a hash this tool knows", nameAlgId));
        int attrs = r.u32("objectAttributes");
        byte[] policy = r.sized("authPolicy", MAX_DIGEST);
        if (policy.length != 0 && policy.length != nameAlg.size) {
            throw r.error("authPolicy has " + policy.length + " bytes, the nameAlg " + nameAlg.tpmName + " digest has " + nameAlg.size);
        }
        switch (type) {
            case TPM_ALG_KEYEDHASH -> {
                int scheme = r.u16("keyedHash scheme");
                if (scheme == TPM_ALG_HMAC) r.u16("HMAC hashAlg");
                else if (scheme == TPM_ALG_XOR) {
                    r.u16("XOR hashAlg");
                    r.u16("XOR kdf");
                } else if (scheme != TPM_ALG_NULL) throw r.error(String.format("keyedHash scheme 0x%04x unknown", scheme));
                r.sized("unique", MAX_DIGEST);
            }
            case TPM_ALG_SYMCIPHER -> {
                symDef(r);
                r.sized("unique", MAX_DIGEST);
            }
            case TPM_ALG_RSA -> {
                symDef(r);
                int scheme = r.u16("RSA scheme");
                if (scheme != TPM_ALG_NULL && scheme != TPM_ALG_RSAES) r.u16("RSA scheme hashAlg");
                r.u16("keyBits");
                r.u32("exponent");
                r.sized("RSA modulus", MAX_RSA_BYTES);
            }
            case TPM_ALG_ECC -> {
                symDef(r);
                int scheme = r.u16("ECC scheme");
                if (scheme != TPM_ALG_NULL) {
                    r.u16("ECC scheme hashAlg");
                    if (scheme == TPM_ALG_ECDAA) r.u16("ECDAA count");
                }
                r.u16("curveID");
                int kdf = r.u16("kdf scheme");
                if (kdf != TPM_ALG_NULL) r.u16("kdf hashAlg");
                r.sized("ECC point x", MAX_ECC_BYTES);
                r.sized("ECC point y", MAX_ECC_BYTES);
            }
            default -> throw r.error(String.format("public area type 0x%04x is not RSA, ECC, keyed-hash or symmetric", type));
        }
        r.expectEnd();
        return new TpmPublic(type, nameAlg, attrs, policy, area);
    }

    private static void symDef(BeReader r) {
        int alg = r.u16("symmetric algorithm");
        if (alg != TPM_ALG_NULL) {
            r.u16("symmetric keyBits");
            r.u16("symmetric mode");
        }
    }

    /** Splits a TPM2B_PRIVATE ‖ TPM2B_PUBLIC blob (systemd's tpm2-blob) into its parts. */
    public static SealedObject splitBlob(byte[] blob, String what) {
        BeReader r = new BeReader(blob, what);
        byte[] priv = r.sized("TPM2B_PRIVATE", 2048);
        if (priv.length == 0) throw r.error("empty TPM2B_PRIVATE");
        TpmPublic pub = read(r);
        r.expectEnd();
        return new SealedObject(pub.area(), priv);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TpmPublic p && Arrays.equals(p.area, area);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(area);
    }

    @Override
    public String toString() {
        return typeName() + " nameAlg " + nameAlg.tpmName + String.format(" attributes 0x%08x", attributes);
    }
}
