package org.kexecmeasured.boot;

import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.EnumMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Digests of measured data in every bank, in one pass over the bytes (MultiHasher, OpenSSL when it
 * loads): a 10 MB kernel section is read once, and each bank's hash runs once. No byte range is hashed
 * twice in one run: the payload's Authenticode digest is kept for its PCR 4 event, and large data seen
 * again (the initrd) reuses its digests. Counts bytes and time for the bench.
 */
public final class Hashing {
    private final EnumSet<HashAlg> banks;
    private final AtomicLong nanos = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong largeNanos = new AtomicLong();
    private final AtomicLong largeBytes = new AtomicLong();
    private final AtomicLong reusedBytes = new AtomicLong();

    /** Data at least this large counts as a "large section" in the statistics. */
    public static final int LARGE = 1 << 20;

    public Hashing(List<HashAlg> banks) {
        this.banks = EnumSet.copyOf(banks);
    }

    public EnumSet<HashAlg> banks() {
        return EnumSet.copyOf(banks);
    }

    /** H(data) in every bank. */
    public Map<HashAlg, byte[]> digest(byte[] data) {
        return digest(ByteBuffer.wrap(data));
    }

    /**
     * H(the buffer's remaining bytes) in every bank; the buffer itself is not moved. Large data whose
     * bytes were hashed before in this run (systemd-stub measures its {@code .initrd} section, and the
     * Linux stub then measures the same bytes served by LoadFile2) reuses those digests after a byte
     * comparison, which costs a fraction of hashing them again in every bank.
     */
    public Map<HashAlg, byte[]> digest(ByteBuffer data) {
        ByteBuffer view = data.slice().asReadOnlyBuffer();
        int n = view.remaining();
        if (n >= LARGE) {
            Map<HashAlg, byte[]> known = seen(view);
            if (known != null) {
                reusedBytes.addAndGet(n);
                return known;
            }
        }
        long t0 = System.nanoTime();
        Map<HashAlg, byte[]> d;
        try (MultiHasher h = MultiHasher.create(banks)) {
            h.update(view.duplicate());
            d = h.finish();
        }
        count(n, System.nanoTime() - t0);
        if (n >= LARGE) remember(view, d);
        return d;
    }

    /** Large inputs hashed so far in this run (views, not copies), with their digests. */
    private final List<Map.Entry<ByteBuffer, Map<HashAlg, byte[]>>> large = new ArrayList<>();

    private synchronized Map<HashAlg, byte[]> seen(ByteBuffer data) {
        for (Map.Entry<ByteBuffer, Map<HashAlg, byte[]>> e : large) {
            if (e.getKey().remaining() == data.remaining() && e.getKey().equals(data)) {
                return new EnumMap<>(e.getValue());
            }
        }
        return null;
    }

    private synchronized void remember(ByteBuffer data, Map<HashAlg, byte[]> d) {
        if (large.size() >= MAX_REMEMBERED) large.remove(0);
        large.add(Map.entry(data, new EnumMap<>(d)));
    }

    /** Large inputs remembered for reuse (each holds its array alive until the run ends). */
    static final int MAX_REMEMBERED = 4;

    /** The PE/COFF Authenticode digest in every bank (what firmware logs for LoadImage). */
    public Map<HashAlg, byte[]> authenticode(byte[] image) {
        Map<HashAlg, byte[]> known = remembered(image);
        if (known != null) {
            return known;
        }
        long t0 = System.nanoTime();
        Map<HashAlg, byte[]> d = Authenticode.digests(PeFile.parse(image), banks);
        count(image.length, System.nanoTime() - t0);
        return d;
    }

    private byte[] rememberedImage;
    private Map<HashAlg, byte[]> rememberedDigests;

    /**
     * The payload's SHA-256 Authenticode digest (for the boundary event), computed together with
     * every bank's and remembered, so that the PCR 4 event of the payload's own LoadImage does not
     * hash the (often 50 MB) image a second time.
     */
    public synchronized byte[] payloadAuthenticodeSha256(byte[] image) {
        EnumSet<HashAlg> algs = EnumSet.copyOf(banks);
        algs.add(HashAlg.SHA256);
        long t0 = System.nanoTime();
        Map<HashAlg, byte[]> d = Authenticode.digests(PeFile.parse(image), algs);
        count(image.length, System.nanoTime() - t0);
        rememberedImage = image;
        rememberedDigests = new EnumMap<>(HashAlg.class);
        for (HashAlg a : banks) rememberedDigests.put(a, d.get(a));
        return d.get(HashAlg.SHA256);
    }

    private synchronized Map<HashAlg, byte[]> remembered(byte[] image) {
        if (rememberedImage == null || (image != rememberedImage && !Arrays.equals(image, rememberedImage))) {
            return null;
        }
        return new EnumMap<>(rememberedDigests);
    }

    private void count(long n, long t) {
        nanos.addAndGet(t);
        bytes.addAndGet(n);
        if (n >= LARGE) {
            largeNanos.addAndGet(t);
            largeBytes.addAndGet(n);
        }
    }

    /** Total hashing time (all banks together, each byte read once). */
    public long nanos() {
        return nanos.get();
    }

    public long bytes() {
        return bytes.get();
    }

    public long largeNanos() {
        return largeNanos.get();
    }

    public long largeBytes() {
        return largeBytes.get();
    }

    /** Bytes whose digests were reused instead of hashed again (same content seen before in this run). */
    public long reusedBytes() {
        return reusedBytes.get();
    }
}
