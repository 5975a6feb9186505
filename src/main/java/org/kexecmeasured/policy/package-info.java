/**
 * The policy engine: what a measured kexec may boot, and what becomes of the host's sealed secrets.
 *
 * <ul>
 *   <li>{@code file}: the policy file (YAML, schema in the top-level {@code policy/} folder) read into
 *       a typed {@link org.kexecmeasured.policy.file.PolicyFile}; every error names file, line and key.</li>
 *   <li>{@code secret}: the secret sources, read directly (never through cryptsetup or clevis):
 *       LUKS2 headers with systemd-tpm2 tokens and Clevis pins, tpm2-tools objects, persistent
 *       objects, NV indexes, Clevis JWEs, systemd-pcrlock metadata; each becomes
 *       {@link org.kexecmeasured.policy.secret.UnlockRoute}s: the policy session, step by step,
 *       as the secret's own format describes it.</li>
 *   <li>{@code engine}: {@link org.kexecmeasured.policy.engine.Prediction} (PCRs before the kexec, the
 *       plan's extends, the states of the next boot) and
 *       {@link org.kexecmeasured.policy.PolicyEngine} (in this package, as it calls both {@code engine}
 *       and {@code reauth}): payload trust of every image the boot starts, the chain's PCRs, PCRs that already
 *       disagree with the firmware log, a verdict with its reason per secret, the decision.</li>
 *   <li>{@code reauth}: opt-in re-authorization, a tpm2-pcr-signature.json over the predicted values.</li>
 * </ul>
 *
 * <p>Here: {@link org.kexecmeasured.policy.PolicyDecider}, the boot's {@code Decider} built from a policy file,
 * and {@link org.kexecmeasured.policy.PolicyAtCommit}, which makes the commit of a {@code boot --at-shutdown}
 * decide again under the same policy file on the PCRs read at shutdown (and re-authorize then).
 *
 * <p>Nothing here writes to a TPM: the engine replays policy sessions in pure code ({@code
 * tpm.policy.PolicyDigest}) and reads public areas only. Depends on {@code tpm}, {@code payload},
 * {@code eventlog}, {@code util}.
 */
package org.kexecmeasured.policy;
