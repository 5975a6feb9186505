package org.kexecmeasured.payload.hash;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import org.kexecmeasured.util.HashAlg;

import java.util.Arrays;

/**
 * A private key held by OpenSSL's libcrypto (the one binding, {@link NativeCrypto}) to sign with
 * {@code EVP_DigestSign}, as systemd-measure signs: RSA keys with PKCS#1 v1.5 (OpenSSL's default padding), EC
 * keys with ECDSA (DER signature). Used by the re-authorization, whose four or more RSA-2048 signatures cost
 * ~13 ms each on the JDK in this tool's C1-only JVM (the BigInteger intrinsics are C2's) and well under 1 ms here.
 *
 * <p>Secrets: the key's DER is in native memory only for {@code d2i_AutoPrivateKey} and cleansed
 * ({@code OPENSSL_cleanse}) before that memory is freed; {@link #close} frees the {@code EVP_PKEY}, whose private
 * components OpenSSL clears as it frees them (BN_clear_free). The caller clears its own copy of the DER.
 */
public final class NativeSigningKey implements AutoCloseable {
    /** Larger than any RSA-16384 or ECDSA signature: a length beyond it is libcrypto misbehaving, not a key. */
    private static final long MAX_SIGNATURE = 4096;

    private Pointer pkey;

    private NativeSigningKey(Pointer pkey) {
        this.pkey = pkey;
    }

    /** True when libcrypto is loaded (and not turned off by {@code -Dkexec.measured.noNativeCrypto=true}). */
    public static boolean available() {
        return NativeCrypto.available();
    }

    /**
     * The key of a private-key DER (PKCS#8, PKCS#1 RSA or SEC 1 EC), in libcrypto; null when libcrypto is not
     * there, lacks a function, or does not take the whole DER as a key (the caller's JDK path then decides and
     * words the error).
     */
    public static NativeSigningKey fromDer(byte[] der) {
        NativeCrypto.LibCrypto lib = NativeCrypto.lib();
        if (lib == null || der.length == 0) return null;
        Memory m = new Memory(der.length);
        try {
            m.write(0, der, 0, der.length);
            PointerByReference pp = new PointerByReference(m);
            Pointer k = lib.d2i_AutoPrivateKey(null, pp, der.length);
            if (k == null) return null;
            // the whole DER must be the key: trailing bytes are not what the JDK path would accept either
            if (Pointer.nativeValue(pp.getValue()) != Pointer.nativeValue(m) + der.length) {
                lib.EVP_PKEY_free(k);
                return null;
            }
            return new NativeSigningKey(k);
        } catch (UnsatisfiedLinkError e) {
            return null; // an OpenSSL without the function: the JDK signs
        } finally {
            cleanse(lib, m, der.length);
            m.close();
        }
    }

    private static void cleanse(NativeCrypto.LibCrypto lib, Memory m, long len) {
        try {
            lib.OPENSSL_cleanse(m, len);
        } catch (UnsatisfiedLinkError e) {
            m.clear(len);
        }
    }

    /** The digests {@link #sign} takes. */
    public static boolean supports(HashAlg digest) {
        return NativeCrypto.supports(digest);
    }

    private Pointer key() {
        if (pkey == null) throw new IllegalStateException("signing key already closed");
        return pkey;
    }

    /** The public half as a DER SubjectPublicKeyInfo ({@code i2d_PUBKEY}). */
    public byte[] publicKeyDer() {
        NativeCrypto.LibCrypto lib = NativeCrypto.lib();
        int n = lib.i2d_PUBKEY(key(), null);
        if (n <= 0 || n > 1 << 16) throw new IllegalStateException("i2d_PUBKEY failed (" + n + ")");
        try (Memory m = new Memory(n)) {
            PointerByReference pp = new PointerByReference(m);
            if (lib.i2d_PUBKEY(key(), pp) != n) throw new IllegalStateException("i2d_PUBKEY wrote another length");
            return m.getByteArray(0, n);
        }
    }

    /** EVP_DigestSign over {@code data} with {@code digest} (SHA-1/256/384/512). */
    public byte[] sign(HashAlg digest, byte[] data) {
        if (!NativeCrypto.supports(digest)) throw new IllegalArgumentException("libcrypto signing with " + digest + " is not bound");
        NativeCrypto.LibCrypto lib = NativeCrypto.lib();
        Pointer md = lib.EVP_get_digestbyname(NativeCrypto.opensslName(digest));
        Pointer ctx = lib.EVP_MD_CTX_new();
        if (ctx == null) throw new IllegalStateException("EVP_MD_CTX_new failed");
        try {
            if (md == null || lib.EVP_DigestSignInit(ctx, null, md, null, key()) != 1) {
                throw new IllegalStateException("EVP_DigestSignInit with " + digest + " failed");
            }
            LongByReference len = new LongByReference();
            if (lib.EVP_DigestSign(ctx, null, len, data, data.length) != 1 || len.getValue() <= 0 || len.getValue() > MAX_SIGNATURE) {
                throw new IllegalStateException("EVP_DigestSign gave no signature length (" + len.getValue() + ")");
            }
            byte[] sig = new byte[(int) len.getValue()];
            if (lib.EVP_DigestSign(ctx, sig, len, data, data.length) != 1 || len.getValue() > sig.length) {
                throw new IllegalStateException("EVP_DigestSign failed");
            }
            return len.getValue() == sig.length ? sig : Arrays.copyOf(sig, (int) len.getValue()); // ECDSA: DER of variable length
        } finally {
            lib.EVP_MD_CTX_free(ctx);
        }
    }

    /** Frees the key in libcrypto (which clears its private components); idempotent. */
    @Override
    public void close() {
        if (pkey == null) return;
        NativeCrypto.lib().EVP_PKEY_free(pkey);
        pkey = null;
    }
}
