/**
 * Opt-in re-authorization: {@link org.kexecmeasured.policy.reauth.Reauthorizer} signs the predicted
 * post-kexec PCR values with the owner's key in systemd's {@code tpm2-pcr-signature.json} format
 * (identical to {@code systemd-measure sign}'s), for the next system's boot phases, so a LUKS2 token
 * enrolled with that key unlocks after the kexec. {@link org.kexecmeasured.policy.reauth.SigningKey}: the key
 * held and used by OpenSSL's libcrypto when it is loaded, else by the JDK.
 */
package org.kexecmeasured.policy.reauth;
