package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.policy.ApprovedPolicy;
import org.kexecmeasured.util.HashAlg;

import java.security.PublicKey;
import java.util.List;

/** A TPM policy (or trial) session. Close flushes it. */
public interface PolicySession extends AutoCloseable {
    HashAlg alg();

    boolean trial();

    /** TPM2_PolicyPCR against the TPM's current PCR values. */
    void policyPcr(PcrSelection selection);

    /** TPM2_PolicyPCR with an expected pcrDigest (the TPM refuses with TPM_RC_VALUE if PCRs differ). */
    void policyPcr(PcrSelection selection, byte[] pcrDigest);

    void policyAuthValue();

    void policyOr(List<byte[]> branches);

    /**
     * TPM2_PolicyAuthorize with a signed approved policy: loads the public key (owner hierarchy)
     * with nameAlg {@code keyNameAlg}, has the TPM verify the signature with the signature's own
     * hash ({@link ApprovedPolicy#sigHash()}: TPM2_VerifySignature → ticket), then PolicyAuthorize
     * with the key's Name. In a trial session the ticket is not checked, but a real signature is still used.
     */
    void policyAuthorize(ApprovedPolicy approved, PublicKey key, HashAlg keyNameAlg);

    /** As {@link #policyAuthorize(ApprovedPolicy, PublicKey, HashAlg)} with the key loaded as systemd loads it (nameAlg sha256). */
    default void policyAuthorize(ApprovedPolicy approved, PublicKey key) {
        policyAuthorize(approved, key, HashAlg.SHA256);
    }

    /** TPM2_PolicyAuthorize in a trial session: only the key's Name and policyRef matter. */
    void policyAuthorizeTrial(byte[] keyName, byte[] policyRef);

    /** TPM2_PolicyGetDigest. */
    byte[] digest();

    /** TPM2_PolicyRestart. */
    void restart();

    /** The session handle. */
    int handle();

    @Override
    void close();
}
