package org.kexecmeasured.policy.secret;

import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.util.HashAlg;

import java.util.List;

/**
 * One way to unseal a secret: the policy session that satisfies the sealed object's (or NV index's)
 * authPolicy, step by step.
 *
 * @param label         e.g. "token 1 (systemd-tpm2, keyslot 2)"
 * @param sessionAlg    the policy session's hash: the object's nameAlg, whose size the authPolicy has
 * @param authPolicy    the digest the session must reach; empty = no policy (the object is not policy-bound)
 * @param sealed        the object as loadable blobs, null for a persistent object or an NV index
 * @param steps         the policy session, in order
 * @param authoritative true when the steps come from the secret's own metadata (systemd token,
 *                      Clevis JWE); false when the policy file describes them (tpm2-tools objects)
 * @param open          reachable whatever the PCRs are (no policy needed: userWithAuth, an NV index
 *                      readable with owner or its own auth); the reason is in {@code notes}
 * @param notes         facts about the route worth showing (e.g. a PIN is needed as well)
 */
public record UnlockRoute(String label, HashAlg sessionAlg, byte[] authPolicy, SealedObject sealed, List<PolicyStep> steps,
                          boolean authoritative, boolean open, List<String> notes) {
    public UnlockRoute {
        authPolicy = authPolicy.clone();
        steps = List.copyOf(steps);
        notes = List.copyOf(notes);
    }

    @Override
    public byte[] authPolicy() {
        return authPolicy.clone();
    }
}
