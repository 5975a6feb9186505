package org.kexecmeasured.util;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;

/** The TPM_ALG_ID hash algorithms a PCR bank can use (TCG Algorithm Registry). */
public enum HashAlg {
    SHA1(0x0004, 20, "SHA-1", "sha1", 0x1),
    SHA256(0x000B, 32, "SHA-256", "sha256", 0x2),
    SHA384(0x000C, 48, "SHA-384", "sha384", 0x4),
    SHA512(0x000D, 64, "SHA-512", "sha512", 0x8),
    SM3_256(0x0012, 32, "SM3", "sm3_256", 0x10);

    /** TPM_ALG_ID value. */
    public final int algId;
    /** Digest size in bytes. */
    public final int size;
    /** JCA name (SM3 needs Bouncy Castle). */
    public final String jcaName;
    /** Lower-case name as tpm2-tools and systemd print it. */
    public final String tpmName;
    /** Bit in EFI_TCG2_EVENT_ALGORITHM_BITMAP. */
    public final int tcg2Bit;

    HashAlg(int algId, int size, String jcaName, String tpmName, int tcg2Bit) {
        this.algId = algId;
        this.size = size;
        this.jcaName = jcaName;
        this.tpmName = tpmName;
        this.tcg2Bit = tcg2Bit;
    }

    public MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance(jcaName);
        } catch (NoSuchAlgorithmException e) {
            if (this == SM3_256) {
                // Loaded by name: a direct reference makes the verifier open the signed BC jar (and its
                // signature checks, ~0.3 s) whenever HashAlg is first used, even by tools that never see SM3.
                try {
                    return (MessageDigest) Class.forName("org.bouncycastle.jcajce.provider.digest.SM3$Digest")
                            .getDeclaredConstructor().newInstance();
                } catch (ReflectiveOperationException r) {
                    throw new IllegalStateException("Bouncy Castle SM3 unavailable", r);
                }
            }
            throw new IllegalStateException("JCA lacks " + jcaName, e);
        }
    }

    /** Inputs up to this size go to OpenSSL in one call ({@link NativeDigest}); larger ones to the JDK's digest. */
    static final int ONE_SHOT_AT_MOST = 1 << 20;

    /** The digest of {@code data}: by OpenSSL when it is small and OpenSSL is there, else the JDK's (the same bytes). */
    public byte[] digest(byte[] data) {
        byte[] d = data.length <= ONE_SHOT_AT_MOST ? NativeDigest.digest(this, data) : null;
        return d != null ? d : newDigest().digest(data);
    }

    public byte[] digest(byte[] data, int off, int len) {
        if (off == 0 && len == data.length) {
            return digest(data);
        }
        MessageDigest md = newDigest();
        md.update(data, off, len);
        return md.digest();
    }

    /** PCR extend: H(old || digest). */
    public byte[] extend(byte[] pcr, byte[] digest) {
        byte[] both = new byte[pcr.length + digest.length];
        System.arraycopy(pcr, 0, both, 0, pcr.length);
        System.arraycopy(digest, 0, both, pcr.length, digest.length);
        return digest(both);
    }

    /** The TPM_ALG_ID, or null when it is not a hash this tool knows. */
    public static HashAlg fromAlgId(int algId) {
        for (HashAlg a : values()) {
            if (a.algId == algId) return a;
        }
        return null;
    }

    /** Parses "sha256", "SHA-256", "sha_256" alike; throws BadInputException otherwise. */
    public static HashAlg fromName(String name) {
        String n = name.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
        for (HashAlg a : values()) {
            if (a.tpmName.replace("_", "").equals(n)) return a;
        }
        if (n.equals("sm3")) return SM3_256;
        throw new BadInputException("unknown hash algorithm '" + name + "' (known: sha1, sha256, sha384, sha512, sm3_256)");
    }
}
