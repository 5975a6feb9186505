package org.kexecmeasured.payload.hash;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import org.kexecmeasured.util.HashAlg;

/**
 * Signature verification in OpenSSL's libcrypto (the one binding, {@link NativeCrypto}): {@code EVP_DigestVerify}
 * with a public key's SubjectPublicKeyInfo, RSA PKCS#1 v1.5 or ECDSA (DER) as {@link NativeSigningKey} signs. The
 * policy engine checks each signed PCR policy this way, as the TPM will (TPM2_VerifySignature); in this tool's
 * C1-only JVM the JDK's RSA costs milliseconds per signature and its provider look-up more at first use.
 */
public final class NativeVerifier {

    private NativeVerifier() {
    }

    /**
     * Whether {@code sig} is a valid signature over {@code data} with {@code digest} by the key {@code spki};
     * null when libcrypto cannot answer (not loaded, a function missing, a key it does not take, a digest not
     * bound): the caller's JDK path then decides.
     */
    public static Boolean verify(byte[] spki, HashAlg digest, byte[] data, byte[] sig) {
        NativeCrypto.LibCrypto lib = NativeCrypto.lib();
        if (lib == null || spki.length == 0 || !NativeCrypto.supports(digest)) return null;
        try {
            Pointer key;
            try (Memory m = new Memory(spki.length)) {
                m.write(0, spki, 0, spki.length);
                PointerByReference pp = new PointerByReference(m);
                key = lib.d2i_PUBKEY(null, pp, spki.length);
                if (key != null && Pointer.nativeValue(pp.getValue()) != Pointer.nativeValue(m) + spki.length) {
                    lib.EVP_PKEY_free(key); // bytes after the key: not a SubjectPublicKeyInfo alone
                    key = null;
                }
            }
            if (key == null) {
                lib.ERR_clear_error();
                return null;
            }
            Pointer ctx = lib.EVP_MD_CTX_new();
            try {
                Pointer md = lib.EVP_get_digestbyname(NativeCrypto.opensslName(digest));
                if (ctx == null || md == null || lib.EVP_DigestVerifyInit(ctx, null, md, null, key) != 1) {
                    lib.ERR_clear_error();
                    return null;
                }
                int r = lib.EVP_DigestVerify(ctx, sig, sig.length, data, data.length);
                // 0 and errors (a signature that is not even well-formed) alike: it does not verify
                lib.ERR_clear_error();
                return r == 1;
            } finally {
                if (ctx != null) lib.EVP_MD_CTX_free(ctx);
                lib.EVP_PKEY_free(key);
            }
        } catch (UnsatisfiedLinkError e) {
            return null; // an OpenSSL without the function: the JDK verifies
        }
    }
}
