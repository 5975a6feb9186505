/**
 * One pass over a large input into every bank's digest at once, through
 * OpenSSL's libcrypto (JNA) when it is there and the JDK otherwise, so a payload of hundreds of MiB is
 * read once and hashed without copies. The same libcrypto binding ({@code NativeCrypto}) also signs:
 * {@link org.kexecmeasured.payload.hash.NativeSigningKey}, for the policy's re-authorization, and verifies:
 * {@link org.kexecmeasured.payload.hash.NativeVerifier}, for the signed PCR policies the engine checks.
 */
package org.kexecmeasured.payload.hash;
