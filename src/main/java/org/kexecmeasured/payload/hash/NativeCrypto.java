package org.kexecmeasured.payload.hash;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.NativeDigest;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * OpenSSL libcrypto (EVP digest API, and the EVP sign and verify APIs for {@link NativeSigningKey} and
 * {@link NativeVerifier}; OpenSSL 1.1.1 and 3)
 * through JNA; optional. The tool's binding of libcrypto for streamed digests and signatures; the only other one,
 * {@code util.NativeDigest}, binds two functions for one-shot digests of small inputs ({@code util} may not depend on
 * this package).
 */
final class NativeCrypto {

    interface LibCrypto extends Library {
        Pointer EVP_MD_CTX_new();

        void EVP_MD_CTX_free(Pointer ctx);

        Pointer EVP_get_digestbyname(String name);

        int EVP_DigestInit_ex(Pointer ctx, Pointer type, Pointer engine);

        int EVP_DigestUpdate(Pointer ctx, Pointer data, long count);

        int EVP_DigestFinal_ex(Pointer ctx, byte[] md, IntByReference size);

        // signing ({@link NativeSigningKey}): OpenSSL 1.1.1 and 3 both export these

        /** Any private-key DER (PKCS#8, PKCS#1 RSA, SEC 1 EC); advances *pp. */
        Pointer d2i_AutoPrivateKey(Pointer a, PointerByReference pp, long length);

        /** SubjectPublicKeyInfo DER of the key's public half; with pp null only its length. */
        int i2d_PUBKEY(Pointer pkey, PointerByReference pp);

        /** Frees the key; OpenSSL clears the private components (BN_clear_free) as it does. */
        void EVP_PKEY_free(Pointer pkey);

        int EVP_DigestSignInit(Pointer ctx, Pointer pctx, Pointer type, Pointer engine, Pointer pkey);

        /** One-shot sign; with sig null only the maximum length into siglen. */
        int EVP_DigestSign(Pointer ctx, byte[] sig, LongByReference siglen, byte[] tbs, long tbslen);

        void OPENSSL_cleanse(Pointer ptr, long len);

        // verifying ({@link NativeVerifier})

        /** A public key of a DER SubjectPublicKeyInfo; advances *pp. */
        Pointer d2i_PUBKEY(Pointer a, PointerByReference pp, long length);

        int EVP_DigestVerifyInit(Pointer ctx, Pointer pctx, Pointer type, Pointer engine, Pointer pkey);

        /** 1: the signature verifies; 0: it does not; below 0: an error (a malformed signature among them). */
        int EVP_DigestVerify(Pointer ctx, byte[] sig, long siglen, byte[] tbs, long tbslen);

        /** Empties this thread's error queue (a failed verification leaves entries there). */
        void ERR_clear_error();
    }

    private static final LibCrypto LIB = load();

    private NativeCrypto() {
    }

    /** The library {@code util.NativeDigest} found (the one place that names and finds libcrypto), or null. */
    private static LibCrypto load() {
        String name = NativeDigest.libraryName();
        if (name == null) return null;
        try {
            LibCrypto lib = Native.load(name, LibCrypto.class);
            return lib.EVP_get_digestbyname("SHA256") != null ? lib : null;
        } catch (Throwable e) {
            return null; // the JCA path is the fallback
        }
    }

    static boolean available() {
        return LIB != null;
    }

    /** The loaded library (null when {@link #available()} is false), for the other users of this one binding. */
    static LibCrypto lib() {
        return LIB;
    }

    static boolean supports(HashAlg a) {
        return a == HashAlg.SHA1 || a == HashAlg.SHA256 || a == HashAlg.SHA384 || a == HashAlg.SHA512;
    }

    static String opensslName(HashAlg a) {
        return switch (a) {
            case SHA1 -> "SHA1";
            case SHA256 -> "SHA256";
            case SHA384 -> "SHA384";
            case SHA512 -> "SHA512";
            default -> throw new IllegalArgumentException(a.name());
        };
    }

    static final class Hasher extends MultiHasher {
        private final List<HashAlg> algs;
        private final Pointer[] ctx;
        /** Native copy buffer, allocated on first use at min(len, CHUNK) and freed by {@link #close}. */
        private Memory buf;
        private boolean done;

        Hasher(Collection<HashAlg> algs) {
            this.algs = new ArrayList<>(algs);
            ctx = new Pointer[this.algs.size()];
            for (int i = 0; i < ctx.length; i++) {
                ctx[i] = LIB.EVP_MD_CTX_new();
                Pointer md = LIB.EVP_get_digestbyname(opensslName(this.algs.get(i)));
                if (ctx[i] == null || md == null || LIB.EVP_DigestInit_ex(ctx[i], md, null) != 1) {
                    close();
                    throw new IllegalStateException("libcrypto cannot initialise " + this.algs.get(i));
                }
            }
        }

        /** The EVP_MD_CTXs are freed once finished or closed: touching them again would crash the JVM. */
        private void checkOpen() {
            if (done) throw new IllegalStateException("hasher already finished or closed");
        }

        private Memory buffer(long need) {
            int size = (int) Math.min(need, CHUNK);
            if (buf == null || buf.size() < size) {
                if (buf != null) buf.close();
                buf = null; // not left pointing at freed memory if the allocation fails
                buf = new Memory(size);
            }
            return buf;
        }

        @Override
        public void update(byte[] b, int off, int len) {
            checkOpen();
            java.util.Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) return;
            Memory m = buffer(len);
            while (len > 0) {
                int n = (int) Math.min(len, m.size());
                m.write(0, b, off, n); // one copy into native memory, shared by all algorithms
                for (Pointer c : ctx) {
                    if (LIB.EVP_DigestUpdate(c, m, n) != 1) throw new IllegalStateException("EVP_DigestUpdate failed");
                }
                off += n;
                len -= n;
            }
        }

        /**
         * A direct buffer (a mapped file, guest memory) is hashed where it lies: no copy at all; a
         * read-only heap view is copied straight into the native buffer (one copy, no Java chunk).
         */
        @Override
        public void update(java.nio.ByteBuffer b, int off, int len) {
            checkOpen();
            java.util.Objects.checkFromIndexSize(off, len, b.limit());
            if (len == 0) return;
            if (b.hasArray()) {
                super.update(b, off, len);
                return;
            }
            if (!b.isDirect()) {
                Memory m = buffer(len);
                while (len > 0) {
                    int n = (int) Math.min(len, m.size());
                    m.getByteBuffer(0, n).put(b.slice(off, n));
                    for (Pointer c : ctx) {
                        if (LIB.EVP_DigestUpdate(c, m, n) != 1) throw new IllegalStateException("EVP_DigestUpdate failed");
                    }
                    off += n;
                    len -= n;
                }
                return;
            }
            try {
                Pointer p = Native.getDirectBufferPointer(b).share(off);
                for (Pointer c : ctx) {
                    if (LIB.EVP_DigestUpdate(c, p, len) != 1) throw new IllegalStateException("EVP_DigestUpdate failed");
                }
            } finally {
                java.lang.ref.Reference.reachabilityFence(b); // the mapping must outlive the native reads
            }
        }

        @Override
        public void updateZeros(long n) {
            checkOpen();
            if (n <= 0) return;
            Memory m = buffer(n);
            long z = Math.min(m.size(), n);
            m.clear(z);
            while (n > 0) {
                long k = Math.min(z, n);
                for (Pointer c : ctx) {
                    if (LIB.EVP_DigestUpdate(c, m, k) != 1) throw new IllegalStateException("EVP_DigestUpdate failed");
                }
                n -= k;
            }
        }

        @Override
        public Map<HashAlg, byte[]> finish() {
            checkOpen();
            try {
                Map<HashAlg, byte[]> out = new EnumMap<>(HashAlg.class);
                for (int i = 0; i < ctx.length; i++) {
                    byte[] md = new byte[64];
                    IntByReference len = new IntByReference();
                    if (LIB.EVP_DigestFinal_ex(ctx[i], md, len) != 1) throw new IllegalStateException("EVP_DigestFinal_ex failed");
                    out.put(algs.get(i), java.util.Arrays.copyOf(md, len.getValue()));
                }
                return out;
            } finally {
                close();
            }
        }

        /** True while the native copy buffer is allocated (tests check that close frees it). */
        boolean holdsBuffer() {
            return buf != null;
        }

        @Override
        public void close() {
            if (done) return;
            done = true;
            for (int i = 0; i < ctx.length; i++) {
                if (ctx[i] != null) LIB.EVP_MD_CTX_free(ctx[i]);
                ctx[i] = null;
            }
            if (buf != null) {
                buf.close();
                buf = null;
            }
        }
    }
}
