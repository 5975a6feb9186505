/**
 * Sealed-secret sources, parsed strictly from untrusted bytes: LUKS2 headers
 * ({@link org.kexecmeasured.policy.secret.Luks2Header}: both copies, checksums, JSON area),
 * systemd's {@code systemd-tpm2} tokens, Clevis JWEs ({@code tpm2} pin), tpm2-tools object files,
 * TPM-resident objects and NV indexes (read-only look-ups), systemd-pcrlock metadata. Each secret
 * becomes one or more {@link org.kexecmeasured.policy.secret.UnlockRoute}s: the sealed object's
 * authPolicy and the {@link org.kexecmeasured.policy.secret.PolicyStep}s of the session that
 * unseals it, in the order the secret's own client runs them.
 */
package org.kexecmeasured.policy.secret;
