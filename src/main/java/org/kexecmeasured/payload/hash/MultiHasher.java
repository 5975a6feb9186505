package org.kexecmeasured.payload.hash;

import org.kexecmeasured.util.HashAlg;

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Feeds the same bytes to several hash algorithms at once (one pass over the data).
 *
 * <p>SHA-1/256/384/512 go to OpenSSL's libcrypto through JNA when it loads: it uses the CPU's SHA
 * extensions and AVX2 from the first byte, whereas the JDK's intrinsics only exist in C2-compiled
 * code, which a short-lived command run with tiered compilation capped at C1 never reaches
 * (measured on the bench UKI: ~2 s vs ~0.1 s per algorithm and 55 MiB). Without libcrypto, or for
 * SM3, the JCA digests are used; both paths produce the same digests (tested).
 */
public abstract class MultiHasher implements AutoCloseable {

    /** Bytes per native update; also the copy buffer size. */
    static final int CHUNK = 1 << 20;

    public static MultiHasher create(Collection<HashAlg> algs) {
        if (NativeCrypto.available() && algs.stream().allMatch(NativeCrypto::supports)) {
            return new NativeCrypto.Hasher(algs);
        }
        return new Jca(algs);
    }

    /**
     * Loads libcrypto in the background (JNA start-up costs 0.1-0.2 s), so that it overlaps with
     * reading the input; later {@link #create} calls find it ready.
     */
    public static void preload() {
        Thread t = new Thread(NativeCrypto::available, "libcrypto-preload");
        t.setDaemon(true);
        t.start();
    }

    /** Always the JCA implementation (tests compare the two). */
    public static MultiHasher createJca(Collection<HashAlg> algs) {
        return new Jca(algs);
    }

    public abstract void update(byte[] b, int off, int len);

    /**
     * Feeds the buffer's remaining bytes (its position moves to its limit); see
     * {@link #update(java.nio.ByteBuffer, int, int)}.
     */
    public void update(java.nio.ByteBuffer data) {
        update(data, data.position(), data.remaining());
        data.position(data.limit());
    }

    /**
     * Feeds {@code len} bytes at absolute index {@code off} of the buffer (its position and limit
     * are left alone). A heap buffer with an accessible array is hashed in place; others (read-only
     * views, direct buffers) in {@link #CHUNK} pieces, or by libcrypto without a copy where it can.
     */
    public void update(java.nio.ByteBuffer b, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, b.limit());
        if (b.hasArray()) {
            update(b.array(), b.arrayOffset() + off, len);
            return;
        }
        byte[] chunk = new byte[Math.min(len, CHUNK)];
        while (len > 0) {
            int n = Math.min(len, chunk.length);
            b.get(off, chunk, 0, n);
            update(chunk, 0, n);
            off += n;
            len -= n;
        }
    }

    /** Feeds n zero bytes (loaded sections are zero-filled past their raw data). Throws IllegalStateException after finish/close. */
    public void updateZeros(long n) {
        byte[] z = new byte[(int) Math.min(CHUNK, Math.max(n, 0))];
        while (n > 0) {
            int k = (int) Math.min(z.length, n);
            update(z, 0, k);
            n -= k;
        }
    }

    /**
     * The digests; the hasher is closed afterwards: update, updateZeros and finish then throw
     * IllegalStateException. Use try-with-resources so a failed hash also releases native memory.
     */
    public abstract Map<HashAlg, byte[]> finish();

    @Override
    public void close() {
    }

    static final class Jca extends MultiHasher {
        private final List<HashAlg> algs;
        private final MessageDigest[] mds;
        private boolean done;

        Jca(Collection<HashAlg> algs) {
            this.algs = new ArrayList<>(algs);
            this.mds = new MessageDigest[this.algs.size()];
            for (int i = 0; i < mds.length; i++) mds[i] = this.algs.get(i).newDigest();
        }

        @Override
        public void update(byte[] b, int off, int len) {
            checkOpen();
            for (MessageDigest md : mds) md.update(b, off, len);
        }

        /** Same contract as the native hasher: a finished or closed hasher is not reused by accident. */
        private void checkOpen() {
            if (done) throw new IllegalStateException("hasher already finished or closed");
        }

        @Override
        public void updateZeros(long n) {
            checkOpen();
            super.updateZeros(n);
        }

        @Override
        public void close() {
            done = true;
        }

        @Override
        public Map<HashAlg, byte[]> finish() {
            checkOpen();
            done = true;
            Map<HashAlg, byte[]> out = new EnumMap<>(HashAlg.class);
            for (int i = 0; i < mds.length; i++) out.put(algs.get(i), mds[i].digest());
            return out;
        }
    }
}
