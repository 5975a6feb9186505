package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.Arrays;

/**
 * One TPMT_HA of a record: the TPM_ALG_ID as read (also for algorithms this tool cannot hash) and
 * the digest bytes. The array is not copied on construction by the parser; callers must not change it.
 */
public record Digest(int algId, byte[] value) {

    /** The algorithm, or null when the ID is not one {@link HashAlg} knows. */
    public HashAlg hashAlg() {
        return HashAlg.fromAlgId(algId);
    }

    /** "sha256", or "0x1234" for an unknown algorithm ID. */
    public String algName() {
        HashAlg a = hashAlg();
        return a != null ? a.tpmName : String.format("0x%04x", algId);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Digest d && d.algId == algId && Arrays.equals(d.value, value);
    }

    @Override
    public int hashCode() {
        return 31 * algId + Arrays.hashCode(value);
    }

    @Override
    public String toString() {
        return algName() + ":" + Hex.of(value);
    }
}
