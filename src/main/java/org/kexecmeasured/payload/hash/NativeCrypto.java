package org.kexecmeasured.payload.hash;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** OpenSSL libcrypto (EVP digest API, OpenSSL 1.1 and 3) through JNA; optional. */
final class NativeCrypto {

    interface LibCrypto extends Library {
        Pointer EVP_MD_CTX_new();

        void EVP_MD_CTX_free(Pointer ctx);

        Pointer EVP_get_digestbyname(String name);

        int EVP_DigestInit_ex(Pointer ctx, Pointer type, Pointer engine);

        int EVP_DigestUpdate(Pointer ctx, Pointer data, long count);

        int EVP_DigestFinal_ex(Pointer ctx, byte[] md, IntByReference size);
    }

    private static final LibCrypto LIB = load();

    private NativeCrypto() {
    }

    private static LibCrypto load() {
        if (Boolean.getBoolean("kexec.measured.noNativeCrypto")) return null;
        for (String name : new String[]{"crypto", "libcrypto.so.3", "libcrypto.so.1.1"}) {
            try {
                LibCrypto lib = Native.load(name, LibCrypto.class);
                if (lib.EVP_get_digestbyname("SHA256") != null) return lib;
            } catch (Throwable e) {
                // try the next name; the JCA path is the fallback
            }
        }
        return null;
    }

    static boolean available() {
        return LIB != null;
    }

    static boolean supports(HashAlg a) {
        return a == HashAlg.SHA1 || a == HashAlg.SHA256 || a == HashAlg.SHA384 || a == HashAlg.SHA512;
    }

    private static String opensslName(HashAlg a) {
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
        private final Memory buf = new Memory(CHUNK);
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

        @Override
        public void update(byte[] b, int off, int len) {
            while (len > 0) {
                int n = Math.min(len, CHUNK);
                buf.write(0, b, off, n); // one copy into native memory, shared by all algorithms
                for (Pointer c : ctx) {
                    if (LIB.EVP_DigestUpdate(c, buf, n) != 1) throw new IllegalStateException("EVP_DigestUpdate failed");
                }
                off += n;
                len -= n;
            }
        }

        @Override
        public void updateZeros(long n) {
            if (n <= 0) return;
            buf.clear(Math.min(CHUNK, n));
            while (n > 0) {
                int k = (int) Math.min(CHUNK, n);
                for (Pointer c : ctx) LIB.EVP_DigestUpdate(c, buf, k);
                n -= k;
            }
        }

        @Override
        public Map<HashAlg, byte[]> finish() {
            Map<HashAlg, byte[]> out = new EnumMap<>(HashAlg.class);
            for (int i = 0; i < ctx.length; i++) {
                byte[] md = new byte[64];
                IntByReference len = new IntByReference();
                if (LIB.EVP_DigestFinal_ex(ctx[i], md, len) != 1) throw new IllegalStateException("EVP_DigestFinal_ex failed");
                out.put(algs.get(i), java.util.Arrays.copyOf(md, len.getValue()));
            }
            close();
            return out;
        }

        @Override
        public void close() {
            if (done) return;
            done = true;
            for (Pointer c : ctx) if (c != null) LIB.EVP_MD_CTX_free(c);
        }
    }
}
