package org.kexecmeasured.util;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * One-shot digests of small inputs (a PCR extend's {@code old || digest}, an event's data) by OpenSSL's
 * {@code EVP_Digest}, for {@link HashAlg#digest} and {@link HashAlg#extend}. The JDK's SHA code is Java; the
 * launcher's C1-only JIT has no SHA intrinsics and compiles it only after hundreds of calls, so the few dozen
 * digests of a boot's plan run interpreted: 30-800 µs each (a SHA-384 block is 80 rounds of long arithmetic),
 * ~10 main-thread CPU-ms for a 60 MiB UKI's boot. Here each is a JNI call (JNA direct mapping: no proxy, no boxing)
 * of a few µs. The large, streamed digests stay with {@code payload.hash}'s binding; this one only binds
 * {@code EVP_get_digestbyname} and {@code EVP_Digest} (OpenSSL 1.1.1 and 3), here because {@code util} depends on no
 * other package. Optional, as that one: without libcrypto, or with {@code -Dkexec.measured.noNativeCrypto=true},
 * {@link #digest} returns null and the JDK computes. The one place that finds libcrypto: the payload's binding
 * loads the library named by {@link #libraryName}.
 */
public final class NativeDigest {
    private NativeDigest() {
    }

    /** The {@code EVP_MD} of each {@link HashAlg} by ordinal; null where OpenSSL is absent or lacks it (SM3). */
    private static final Pointer[] MD = new Pointer[HashAlg.values().length];

    /** The name libcrypto loaded by, or null (absent, switched off, or JNA's native part not loadable). */
    private static final String LIBRARY_NAME;

    static {
        String loaded = null;
        try {
            NativeLibrary lib = Boolean.getBoolean("kexec.measured.noNativeCrypto") ? null : load();
            if (lib != null) {
                loaded = lib.getName();
                Native.register(NativeDigest.class, lib);
                for (HashAlg a : new HashAlg[]{HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512}) {
                    MD[a.ordinal()] = EVP_get_digestbyname(a.name());
                }
            }
        } catch (LinkageError e) {
            // JNA's own native part is not loadable here (NativeLibrary's class initialization fails): the JDK computes
            java.util.Arrays.fill(MD, null);
            loaded = null;
        }
        LIBRARY_NAME = loaded;
    }

    /**
     * The name under which libcrypto loaded here (for JNA's {@code Native.load}), or null when the tool computes
     * digests in the JDK: no libcrypto, {@code -Dkexec.measured.noNativeCrypto=true}, or no JNA native part.
     */
    public static String libraryName() {
        return LIBRARY_NAME;
    }

    /** The development link, then the two ABIs (OpenSSL 3, 1.1.1). */
    private static NativeLibrary load() {
        for (String name : new String[]{"crypto", "libcrypto.so.3", "libcrypto.so.1.1"}) {
            try {
                NativeLibrary lib = NativeLibrary.getInstance(name);
                lib.getFunction("EVP_Digest"); // throws when this is no libcrypto
                lib.getFunction("EVP_get_digestbyname");
                return lib;
            } catch (UnsatisfiedLinkError e) {
                // the next name; the JDK is the fallback
            }
        }
        return null;
    }

    /** {@code const EVP_MD *EVP_get_digestbyname(const char *name)}. */
    private static native Pointer EVP_get_digestbyname(String name);

    /**
     * {@code int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const EVP_MD *type,
     * ENGINE *impl)}: 1 on success.
     */
    private static native int EVP_Digest(byte[] data, long count, byte[] md, Pointer size, Pointer type, Pointer impl);

    /** The {@code alg} digest of all of {@code data}, or null when OpenSSL cannot compute it here. */
    static byte[] digest(HashAlg alg, byte[] data) {
        Pointer md = MD[alg.ordinal()];
        if (md == null) {
            return null;
        }
        byte[] out = new byte[alg.size];
        return EVP_Digest(data, data.length, out, null, md, null) == 1 ? out : null;
    }
}
