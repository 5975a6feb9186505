package org.kexecmeasured.policy.reauth;

import org.kexecmeasured.payload.hash.NativeSigningKey;
import org.kexecmeasured.policy.secret.PemKeys;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.Arrays;

/**
 * The re-authorization's signing key, read from its PEM file: held by OpenSSL's libcrypto when it is loaded
 * and takes the key ({@link NativeSigningKey}: ~0.1 ms per RSA-2048 signature), else a JDK {@link PrivateKey}
 * (~13 ms per signature in this tool's C1-only JVM). The JDK signs when libcrypto is not there (no libssl3,
 * {@code -Dkexec.measured.noNativeCrypto=true}) or does not take the PEM's key (an encrypted key, a block type
 * other than PRIVATE KEY / RSA PRIVATE KEY / EC PRIVATE KEY): then the JDK path also words the errors. Both
 * give the same signatures: PKCS#1 v1.5 is deterministic (equal bytes), ECDSA verifies under either.
 *
 * <p>On the native path no private key object exists on the Java heap: the PEM bytes and the DER decoded from
 * them are cleared as soon as libcrypto holds the key, and {@link #close} frees it there.
 */
public final class SigningKey implements AutoCloseable {
    private final NativeSigningKey nativeKey;
    private final PrivateKey jdkKey;
    private final PublicKey publicKey;

    private SigningKey(NativeSigningKey nativeKey, PrivateKey jdkKey, PublicKey publicKey) {
        this.nativeKey = nativeKey;
        this.jdkKey = jdkKey;
        this.publicKey = publicKey;
    }

    /** Reads the key; bad input (naming the file) when it is not an unencrypted RSA or EC private key. */
    public static SigningKey read(Path file) {
        byte[] pem = Reauthorizer.readPem(file);
        try {
            SigningKey k = NativeSigningKey.available() ? readNative(pem) : null;
            if (k != null) return k;
            PrivateKey key = Reauthorizer.jdkPrivateKey(pem, file);
            return new SigningKey(null, key, Reauthorizer.publicKeyOf(key, file));
        } finally {
            Arrays.fill(pem, (byte) 0);
        }
    }

    /** The key in libcrypto, when it takes it and it is RSA or EC; else null (the JDK path decides). */
    private static SigningKey readNative(byte[] pem) {
        byte[] der = PemKeys.privateKeyDer(pem);
        if (der == null) return null;
        NativeSigningKey k;
        try {
            k = NativeSigningKey.fromDer(der);
        } finally {
            Arrays.fill(der, (byte) 0);
        }
        if (k == null) return null;
        // only what the JDK path signs too (RSA with PKCS#1 v1.5, EC): an RSA-PSS or EdDSA key goes there and is refused
        // and only on the curves the JDK signs on (libcrypto also signs on secp256k1 or brainpool, which the JDK path,
        // the TPM and systemd refuse)
        PublicKey pub = PemKeys.publicKey(k.publicKeyDer());
        if (pub == null || !PemKeys.jdkSignatureKey(pub)) {
            k.close();
            return null;
        }
        return new SigningKey(k, null, pub);
    }

    /** True when libcrypto holds the key. */
    boolean isNative() {
        return nativeKey != null;
    }

    PublicKey publicKey() {
        return publicKey;
    }

    /** The signature systemd-measure makes: EVP_DigestSign with the bank's hash over the policy digest. */
    byte[] sign(HashAlg bank, byte[] pol) {
        if (nativeKey != null) {
            if (!NativeSigningKey.supports(bank)) throw new BadInputException("reauthorize: cannot sign with " + bank.jcaName + " (libcrypto)");
            return nativeKey.sign(bank, pol);
        }
        return Reauthorizer.sign(jdkKey, bank, pol);
    }

    /** Frees the key in libcrypto (a later signature is refused); again: nothing. */
    @Override
    public void close() {
        if (nativeKey != null) nativeKey.close();
    }
}
