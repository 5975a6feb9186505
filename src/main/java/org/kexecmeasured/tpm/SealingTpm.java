package org.kexecmeasured.tpm;

import org.kexecmeasured.util.HashAlg;

/**
 * The sealing part of a TPM: policy sessions, seal and unseal, and the read-only look-ups of
 * sealed objects and NV indexes ({@link PublicAreaReader}). The measured boot never needs it (it
 * depends on {@link PcrTpm} only); the policy engine's sealed-secret verdicts do.
 */
public interface SealingTpm extends PublicAreaReader {

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
}
