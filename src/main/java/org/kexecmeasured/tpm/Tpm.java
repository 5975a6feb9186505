package org.kexecmeasured.tpm;

import org.kexecmeasured.util.HashAlg;

import java.util.List;
import java.util.Map;

/**
 * What the rest of kexec-measured may do with a TPM. Obtain one with {@link TpmFactory#open(String)}.
 * Not thread-safe; one connection per instance.
 */
public interface Tpm extends AutoCloseable {

    /** The TCTI string this TPM was opened with. */
    String tcti();

    /** Manufacturer, firmware, spec revision, banks, buffer sizes (cached after the first call). */
    TpmInfo info();

    /** Active PCR banks (allocated with at least one PCR), in the TPM's order. Cached. */
    List<HashAlg> banks();

    /**
     * Reads a PCR selection with as few TPM2_PCR_Read commands as the TPM allows (a response holds
     * at most 8 digests, whatever the banks).
     *
     * @return per bank an array indexed by PCR number (length = highest selected PCR + 1,
     *         entries not selected are null)
     */
    Map<HashAlg, byte[][]> readPcrs(PcrSelection selection);

    /**
     * One TPM2_PCR_Extend of {@code pcr} with a digest for every active bank. Refuses a map that
     * leaves out an active bank (that bank could later be extended to any value) or names an
     * inactive one.
     */
    void extend(int pcr, Map<HashAlg, byte[]> digests);

    /** TPM commands sent on this connection so far. */
    long commandCount();

    /** Starts a policy session (trial = only computes a digest, authorizes nothing). */
    PolicySession startPolicySession(HashAlg alg, boolean trial);

    /**
     * Seals up to 128 bytes under the owner hierarchy's storage primary key (ECC P-256, the
     * standard SRK template): a KEYEDHASH object, fixedTPM|fixedParent, no userWithAuth, so only
     * a policy session satisfying {@code authPolicy} can unseal it.
     */
    SealedObject seal(byte[] secret, byte[] authPolicy);

    /** As {@link #seal(byte[], byte[])}, with an authValue (e.g. a PIN hash) for policies using PolicyAuthValue. */
    SealedObject seal(byte[] secret, byte[] authPolicy, byte[] authValue);

    /**
     * Loads the sealed object under the same primary key and unseals it with the session (which
     * must have reached the object's authPolicy). Fails with TPM_RC_POLICY_FAIL when it has not.
     */
    byte[] unseal(SealedObject sealed, PolicySession session);

    /**
     * Unseal with the object's authValue: when the session ran PolicyAuthValue, the command carries
     * an HMAC keyed with it (wrong value → TPM_RC_AUTH_FAIL, counted by dictionary-attack protection).
     * PolicyPassword is not supported.
     */
    byte[] unseal(SealedObject sealed, PolicySession session, byte[] authValue);

    @Override
    void close();
}
