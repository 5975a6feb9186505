package org.kexecmeasured.boot;

import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.HashAlg;

import java.util.EnumSet;
import java.util.EnumMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Digests of measured data in every bank, in one pass over the bytes (MultiHasher): a 10 MB kernel
 * section is read once, and each bank's hash runs once. Counts bytes and time for the bench.
 */
public final class Hashing {
    private final EnumSet<HashAlg> banks;
    private final AtomicLong nanos = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong largeNanos = new AtomicLong();
    private final AtomicLong largeBytes = new AtomicLong();

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
        long t0 = System.nanoTime();
        Map<HashAlg, byte[]> d;
        try (MultiHasher h = MultiHasher.create(banks)) {
            h.update(data, 0, data.length);
            d = h.finish();
        }
        count(data.length, System.nanoTime() - t0);
        return d;
    }

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
}
