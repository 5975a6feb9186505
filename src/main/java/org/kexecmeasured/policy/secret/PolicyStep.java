package org.kexecmeasured.policy.secret;

import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.util.HashAlg;

import java.security.PublicKey;
import java.util.List;

/**
 * One command of the policy session that unseals a secret, in session order, as the secret's own
 * format describes it. The engine replays these against predicted PCR values to recompute the
 * policy digest the TPM will compare with the object's authPolicy.
 */
public sealed interface PolicyStep {

    /** TPM2_PolicyPCR over the selection, with the PCR values of the state being evaluated. */
    record Pcr(PcrSelection selection) implements PolicyStep {
    }

    /** TPM2_PolicyAuthValue (a PIN or password must also be given at unseal time). */
    record AuthValue() implements PolicyStep {
    }

    /**
     * TPM2_PolicyAuthorize: the session digest so far (the approved policy, e.g. PolicyPCR over
     * {@code signedPcrs}) must be covered by a signature of {@code key} over H(approved ‖ policyRef);
     * then the digest is reset to H(H(0 ‖ CC ‖ keyName) ‖ policyRef). Signatures are looked up as
     * systemd does: in a tpm2-pcr-signature.json, bank {@code bank}, entry with pcrs = {@code signedPcrs},
     * pkfp = the key's fingerprint ({@code SignatureCatalog.fingerprint}), pol = the approved policy.
     *
     * @param keyNameAlg nameAlg of the key as loaded into the TPM (its Name is hashed with it)
     */
    record Authorize(PublicKey key, HashAlg keyNameAlg, byte[] policyRef, HashAlg bank, List<Integer> signedPcrs)
            implements PolicyStep {
        public Authorize {
            policyRef = policyRef.clone();
            signedPcrs = List.copyOf(signedPcrs);
        }
    }

    /**
     * TPM2_PolicyAuthorizeNV: the session digest so far must equal the policy stored in the NV index;
     * then the digest is reset to H(0 ‖ CC ‖ nvName). {@code pcrlock}: the PCR value alternatives the
     * stored policy was built from (systemd-pcrlock's pcrlock.json), or null when unknown.
     */
    record AuthorizeNv(NvPublic nv, PcrlockPolicy pcrlock) implements PolicyStep {
    }
}
