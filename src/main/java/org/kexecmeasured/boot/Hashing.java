package org.kexecmeasured.boot;

import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.uefi.spi.GuestBytes;
import org.kexecmeasured.util.ByteViews;
import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Digests of measured data in every bank, in one pass over the bytes (MultiHasher, OpenSSL when it
 * loads): a 10 MB kernel section is read once, and each bank's hash runs once. No byte range is hashed
 * twice in one run: the payload's Authenticode digest is kept for its PCR 4 event, and large data seen
 * again (the initrd) reuses its digests. Counts bytes and time for the bench.
 *
 * <p>Large sections of the payload can be {@linkplain #precompute hashed ahead} on other threads while the
 * emulator runs the payload on this one: when the guest then measures its own copy of such a section, its bytes
 * are compared with the host bytes that were hashed (content identity, byte for byte) and the digests taken
 * from there; guest data that differs is hashed as it is. The payload's banks other than SHA-256 and the sections
 * hashed ahead are {@linkplain HashingUnits units} (one stream in a group of banks) that one thread per core takes
 * in the order asked for: two run whenever two are left, so the second core is not idle while the plan waits.
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
        this(banks, HashingUnits.workersForThisMachine());
    }

    /** With {@code workers} hashing threads at most (tests: one shows the order the units are taken in). */
    Hashing(List<HashAlg> banks, int workers) {
        this.banks = EnumSet.copyOf(banks);
        this.units = new HashingUnits(workers, r -> threads.execute(r));
    }

    /** Run before each large input is read natively (nothing by default); see {@link #beforeLargeRead(Runnable)}. */
    private volatile Runnable beforeLargeRead = () -> { };

    /**
     * {@code check} runs before every large input is hashed (at least {@link #LARGE} bytes: the payload's mapping or
     * guest data that may be deferred payload pages) and throws to stop it. The payload's check that its read lease
     * still holds goes here: once a lease is broken, a writer waits at most {@code /proc/sys/fs/lease-break-time}
     * (45 s) and may then truncate the file, and OpenSSL reading a truncated mapping dies of SIGBUS (the JVM with it,
     * no exit code); a check just before each read refuses instead (exit 2), since a read that starts while the lease
     * holds ends long before a writer could truncate.
     */
    public void beforeLargeRead(Runnable check) {
        beforeLargeRead = check;
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
            awaitPrecomputed(n);
            // before the comparison too, not only before OpenSSL's read: ByteViews compares native memory with libc
            // memcmp, and its read of a truncated mapping ends the process (SIGBUS), where the JDK's threw InternalError
            beforeLargeRead.run();
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

    /**
     * H(guest bytes) in every bank, read piece by piece out of guest memory: no host copy of the whole range.
     * Large data is first compared with what was hashed before (reused on a match, as {@link #digest(ByteBuffer)});
     * while it is hashed it is also compared with the {@linkplain #knownContent host bytes known to the run} of
     * its length, and when it equals one of them, that immutable copy is remembered with the digests, so the
     * same bytes seen again later (the initrd LoadFile2 serves) are not hashed again. Guest memory itself is
     * never remembered: the guest may change it after the call. Guest memory that still holds exactly the host bytes
     * it was placed from ({@link GuestBytes#placedView}) is hashed as those host bytes ({@link #digest(ByteBuffer)}).
     */
    public Map<HashAlg, byte[]> digest(GuestBytes data) {
        long n = data.length();
        if (n < LARGE) {
            return digest(data.toArray());
        }
        // before placedView and the comparisons: they read the payload's mapping with memcmp (see digest(ByteBuffer))
        beforeLargeRead.run();
        ByteBuffer placed = data.placedView();
        if (placed != null) {
            // the guest still holds exactly the payload's bytes it was placed from (a stub measuring its own section):
            // those host bytes stand for it, and what was hashed ahead of the same memory is found by identity; no
            // copy out of guest memory and no comparison of it
            return digest(placed);
        }
        awaitPrecomputed(n);
        beforeLargeRead.run(); // before the comparison with what was remembered (memcmp of the mapping), as above
        List<Map.Entry<ByteBuffer, Map<HashAlg, byte[]>>> remembered = rememberedOfLength(n);
        if (!remembered.isEmpty()) {
            Map<HashAlg, byte[]> same = sameAs(data, remembered);
            if (same != null) {
                reusedBytes.addAndGet(n);
                return same;
            }
        }
        List<ByteBuffer> candidates = new ArrayList<>();
        for (ByteBuffer k : known) if (k.remaining() == n) candidates.add(k.duplicate());
        beforeLargeRead.run();
        long t0 = System.nanoTime();
        Map<HashAlg, byte[]> d;
        try (MultiHasher h = MultiHasher.create(banks)) {
            data.forEachPiece(p -> {
                compareNext(candidates, p);
                h.update(p.duplicate());
            });
            d = h.finish();
        }
        count(n, System.nanoTime() - t0);
        if (!candidates.isEmpty()) remember(candidates.get(0).rewind(), d);
        return d;
    }

    /**
     * Starts hashing immutable host bytes (a large section of the payload) in every bank on the {@linkplain #units
     * hashing threads}, so that the guest's measurement of the same bytes later finds the digests ready (after a byte
     * comparison). Only inputs of at least {@link #LARGE} bytes are taken. Not copied: the caller must never change
     * them. The banks are split in two units ({@link #splitByCost}: SHA-384 alone, SHA-1 with SHA-256) that two
     * threads may take at once; sections are taken in the order given (a stub measures {@code .linux} before
     * {@code .initrd}), after the payload's own banks. They count in the statistics like any other hashing; a guest
     * measurement of the same length waits for them instead of hashing in parallel.
     */
    public void precompute(ByteBuffer data) {
        if (data.remaining() < LARGE) return;
        ByteBuffer view = data.slice().asReadOnlyBuffer();
        CompletableFuture<Void> done;
        synchronized (this) {
            if (pending.size() >= MAX_REMEMBERED) return;
            List<CompletableFuture<Timed>> parts = new ArrayList<>();
            for (EnumSet<HashAlg> group : splitByCost(banks)) parts.add(units.submit(() -> hashTimed(view, group)));
            done = CompletableFuture.allOf(parts.toArray(new CompletableFuture<?>[0])).thenRun(() -> {
                Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
                long start = Long.MAX_VALUE;
                long end = Long.MIN_VALUE;
                for (CompletableFuture<Timed> f : parts) {
                    Timed p = f.join();
                    d.putAll(p.digests());
                    start = Math.min(start, p.startNanos());
                    end = Math.max(end, p.endNanos());
                }
                count(view.remaining(), end - start); // its bytes once for every bank; its time from first to last unit
                remember(view, d);
            });
            pending.add(Map.entry(view, done));
        }
    }

    /** Digests of one unit of hashing and when it started and ended ({@link System#nanoTime}). */
    private record Timed(Map<HashAlg, byte[]> digests, long startNanos, long endNanos) {
    }

    /** One unit: {@code view} in {@code group}, after the lease check (on the thread that reads, just before it reads). */
    private Timed hashTimed(ByteBuffer view, EnumSet<HashAlg> group) {
        beforeLargeRead.run();
        long t0 = System.nanoTime();
        try (MultiHasher h = MultiHasher.create(group)) {
            h.update(view.duplicate());
            Map<HashAlg, byte[]> d = h.finish();
            return new Timed(d, t0, System.nanoTime());
        }
    }

    /** Precomputations asked for, in order, with their completion (the digests land in {@link #large}). */
    private final List<Map.Entry<ByteBuffer, CompletableFuture<Void>>> pending = new ArrayList<>();

    /**
     * Starts a hashing thread (a new daemon thread "hashing" in production); tests hold the threads back through this
     * before the instance is made, or through {@link #threads} after.
     */
    static volatile java.util.concurrent.Executor workerThreads = daemonThreads("hashing");

    /** Where this instance starts its hashing threads. */
    java.util.concurrent.Executor threads = workerThreads;

    /**
     * The payload's other banks and the sections hashed ahead, as units two threads (one per core) take in the order
     * asked for ({@link HashingUnits}).
     */
    private final HashingUnits units;

    /**
     * Waits until every precomputation asked for so far has ended (whatever its outcome), and every other unit of
     * hashing (the payload's banks): after it no hashing thread reads the payload's mapping.
     */
    void awaitPrecomputations() {
        units.awaitIdle();
    }

    /** Waits for the precomputations of inputs of {@code n} bytes; a failed one only leaves its digests out. */
    private void awaitPrecomputed(long n) {
        List<Future<Void>> wait = new ArrayList<>();
        synchronized (this) {
            for (Map.Entry<ByteBuffer, CompletableFuture<Void>> e : pending) {
                if (e.getKey().remaining() == n) wait.add(e.getValue());
            }
        }
        for (Future<Void> f : wait) {
            try {
                f.get();
            } catch (ExecutionException e) {
                // hashed here instead
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Host bytes the run holds anyway and never changes (the payload's large sections), for {@link #digest(GuestBytes)}. */
    private final List<ByteBuffer> known = new ArrayList<>();

    /**
     * Registers immutable host bytes that guest data may turn out to equal (a section of the payload the guest
     * measures from its own copy); only inputs of at least {@link #LARGE} bytes are kept. Not copied: the caller
     * must never change them.
     */
    public synchronized void knownContent(ByteBuffer data) {
        if (data.remaining() >= LARGE && known.size() < MAX_KNOWN) known.add(data.slice().asReadOnlyBuffer());
    }

    /** Known host ranges kept at most (a UKI has a handful of large sections). */
    static final int MAX_KNOWN = 16;

    /** Advances every candidate by the piece's length, dropping those whose bytes differ. */
    private static void compareNext(List<ByteBuffer> candidates, ByteBuffer piece) {
        int len = piece.remaining();
        candidates.removeIf(c -> {
            ByteBuffer part = c.slice(c.position(), len);
            c.position(c.position() + len);
            return !ByteViews.sameContent(part, piece);
        });
    }

    /** The digests of the remembered bytes that equal the guest's, or null (one pass over the guest bytes). */
    private static Map<HashAlg, byte[]> sameAs(GuestBytes data, List<Map.Entry<ByteBuffer, Map<HashAlg, byte[]>>> remembered) {
        List<ByteBuffer> candidates = new ArrayList<>();
        for (Map.Entry<ByteBuffer, Map<HashAlg, byte[]>> r : remembered) candidates.add(r.getKey().duplicate());
        List<ByteBuffer> all = List.copyOf(candidates);
        data.forEachPiece(p -> compareNext(candidates, p));
        if (candidates.isEmpty()) return null;
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i) == candidates.get(0)) return new EnumMap<>(remembered.get(i).getValue()); // by identity
        }
        throw new IllegalStateException("unreachable: a surviving candidate is one of the remembered");
    }

    private synchronized List<Map.Entry<ByteBuffer, Map<HashAlg, byte[]>>> rememberedOfLength(long n) {
        List<Map.Entry<ByteBuffer, Map<HashAlg, byte[]>>> out = new ArrayList<>();
        for (Map.Entry<ByteBuffer, Map<HashAlg, byte[]>> e : large) if (e.getKey().remaining() == n) out.add(e);
        return out;
    }

    /** Large inputs hashed so far in this run (views, not copies), with their digests. */
    private final List<Map.Entry<ByteBuffer, Map<HashAlg, byte[]>>> large = new ArrayList<>();

    private synchronized Map<HashAlg, byte[]> seen(ByteBuffer data) {
        for (Map.Entry<ByteBuffer, Map<HashAlg, byte[]>> e : large) {
            if (e.getKey().remaining() == data.remaining() && ByteViews.sameContent(e.getKey(), data)) {
                return new EnumMap<>(e.getValue());
            }
        }
        return null;
    }

    private synchronized void remember(ByteBuffer data, Map<HashAlg, byte[]> d) {
        if (large.size() >= MAX_REMEMBERED) large.remove(0);
        large.add(Map.entry(data, new EnumMap<>(d)));
    }

    /** Large inputs remembered for reuse (views: each holds its array alive until the run ends). */
    static final int MAX_REMEMBERED = 8;

    /** The PE/COFF Authenticode digest in every bank (what firmware logs for LoadImage). */
    public Map<HashAlg, byte[]> authenticode(byte[] image) {
        return authenticode(ByteBuffer.wrap(image));
    }

    private ByteBuffer rememberedImage;
    /** The payload's digests in every bank: complete once the last bank's thread is done (or failed). */
    private CompletableFuture<Map<HashAlg, byte[]>> payloadDigests;

    /**
     * The payload's SHA-256 Authenticode digest (for the boundary event), hashed on this thread alone, while its
     * other banks are hashed as {@linkplain HashingUnits units} on other threads ({@link #splitByCost}: on two cores
     * SHA-384 in one, SHA-1 in another; queued before any section hashed ahead, so they are taken first)
     * and kept for the PCR 4 event of the payload's own LoadImage, which {@linkplain #authenticode(ByteBuffer) waits}
     * for them: the (often 50 MB) image is never hashed a second time, and this thread, once SHA-256 is done, plans
     * the boundary and sets the emulator up while the other banks finish. Nothing of the payload runs before they
     * are in: its LoadImage measurement is the emulation's first step and blocks until every bank's digest is there
     * ({@code ImageServices.load} measures before the image exists for the guest).
     *
     * <p>A failure of the other banks' hashing (a broken read lease: checked here before this thread reads the
     * mapping and on each other thread before it does) is thrown, as itself, by whatever waits for them: the LoadImage
     * measurement or {@link #awaitPayload}; nothing irreversible happens in a plan, so the run stops as it did.
     */
    public byte[] payloadAuthenticodeSha256(ByteBuffer image) {
        return payloadAuthenticodeSha256(image, null);
    }

    /**
     * As {@link #payloadAuthenticodeSha256(ByteBuffer)}, the SHA-256 digest taken from {@code early} (started before
     * the firmware log and the PCRs were read, {@link #startPayloadSha256}) when it hashed this very image (the same
     * memory); else (null, another buffer) it is hashed here. A failure of the early hashing (a broken read lease)
     * is thrown as itself, as when it ran on this thread.
     */
    public byte[] payloadAuthenticodeSha256(ByteBuffer image, EarlySha256 early) {
        ByteBuffer view = image.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).clear();
        boolean useEarly = early != null && ByteViews.sameMemory(view, early.image);
        long t0 = useEarly ? early.startNanos : System.nanoTime();
        if (!useEarly) beforeLargeRead.run();
        PeFile pe = PeFile.parse(view);
        EnumSet<HashAlg> rest = EnumSet.copyOf(banks);
        rest.remove(HashAlg.SHA256);
        List<CompletableFuture<Map<HashAlg, byte[]>>> others = new ArrayList<>();
        if (!rest.isEmpty()) {
            for (EnumSet<HashAlg> group : splitByCost(rest)) {
                others.add(units.submit(() -> {
                    beforeLargeRead.run(); // this thread may start later: the lease is checked again just before it reads
                    return Authenticode.digests(pe, group);
                }));
            }
        }
        byte[] own;
        try {
            own = useEarly ? early.await() : Authenticode.digests(pe, EnumSet.of(HashAlg.SHA256)).get(HashAlg.SHA256);
        } catch (RuntimeException | Error e) {
            for (CompletableFuture<Map<HashAlg, byte[]>> f : others) f.cancel(false); // not started: never read
            units.awaitIdle(); // started: read to their end before the caller may release the payload's mapping
            throw e;
        }
        CompletableFuture<Map<HashAlg, byte[]>> all = CompletableFuture.allOf(others.toArray(new CompletableFuture<?>[0]))
                .thenApply(v -> {
                    Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
                    for (CompletableFuture<Map<HashAlg, byte[]>> f : others) d.putAll(f.join());
                    if (banks.contains(HashAlg.SHA256)) d.put(HashAlg.SHA256, own.clone());
                    d.keySet().retainAll(banks);
                    long t = System.nanoTime() - t0; // until its last bank (its bytes are counted below)
                    nanos.addAndGet(t);
                    if (view.capacity() >= LARGE) largeNanos.addAndGet(t);
                    return d;
                });
        count(view.capacity(), 0); // the payload's bytes once for every bank, at once (its time when the last bank is in)
        synchronized (this) {
            rememberedImage = view;
            payloadDigests = all;
        }
        return own.clone();
    }

    /**
     * The payload's SHA-256 Authenticode digest hashed on a thread of its own from the moment the payload is known to
     * be a PE image: the boundary event needs that digest (whatever the TPM's banks), and the plan's first steps
     * (the firmware log, the PCR reads over the TPM transport) have nothing to do with it, so it is done while they
     * run instead of after them, on the plan's critical path. {@code beforeRead} (the read lease's check) runs on
     * that thread right before it reads the image, as {@link #beforeLargeRead} does for every other large read.
     * Read-only: nothing of the payload executes and nothing is recorded until the planner takes the digest
     * ({@link #payloadAuthenticodeSha256(ByteBuffer, EarlySha256)}); a plan that stops before then waits for it
     * ({@link EarlySha256#awaitQuietly}), so no thread of a finished plan still reads the payload's mapping.
     */
    public static EarlySha256 startPayloadSha256(ByteBuffer image, Runnable beforeRead) {
        ByteBuffer view = image.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).clear();
        EarlySha256 e = new EarlySha256(view, System.nanoTime());
        CompletableFuture.runAsync(() -> {
            try {
                beforeRead.run();
                e.digest.complete(Authenticode.digest(PeFile.parse(view), HashAlg.SHA256));
            } catch (Throwable t) {
                e.digest.completeExceptionally(t);
            }
        }, earlyThreads);
        return e;
    }

    /** Where {@link #startPayloadSha256} hashes: a new daemon thread (tests may delay or watch it). */
    static volatile java.util.concurrent.Executor earlyThreads = daemonThreads("hashing-sha256");

    /** The payload's SHA-256 Authenticode digest being hashed ahead of the plan ({@link #startPayloadSha256}). */
    public static final class EarlySha256 {
        private final ByteBuffer image;
        private final long startNanos;
        private final CompletableFuture<byte[]> digest = new CompletableFuture<>();

        private EarlySha256(ByteBuffer image, long startNanos) {
            this.image = image;
            this.startNanos = startNanos;
        }

        /** The digest once hashed; a failure of the hashing is thrown as itself. */
        byte[] await() {
            try {
                return digest.join();
            } catch (java.util.concurrent.CompletionException e) {
                Throwable c = e.getCause() != null ? e.getCause() : e;
                if (c instanceof RuntimeException r) throw r;
                if (c instanceof Error err) throw err;
                throw new IllegalStateException("hashing the payload failed", c);
            }
        }

        /** Waits until the hashing has ended, whatever its outcome (a plan that stopped before it took the digest). */
        public void awaitQuietly() {
            try {
                await();
            } catch (RuntimeException | Error e) {
                // reported by the plan's own failure, which comes first
            }
        }

        /** True when this hashes {@code image}'s memory (a view of the same buffer). */
        public boolean hashes(ByteBuffer image) {
            return ByteViews.sameMemory(image.duplicate().clear(), this.image);
        }

        /** True once the hashing has ended (tests). */
        boolean isDone() {
            return digest.isDone();
        }
    }

    /**
     * Waits for the payload's digests in every bank ({@link #payloadAuthenticodeSha256}); a failure of their hashing
     * is thrown as itself. Nothing when no payload digest was asked for.
     */
    public Map<HashAlg, byte[]> awaitPayload() {
        CompletableFuture<Map<HashAlg, byte[]>> f;
        synchronized (this) {
            f = payloadDigests;
        }
        if (f == null) return Map.of();
        try {
            return new EnumMap<>(f.join());
        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
            Throwable c = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException("hashing the payload failed", c);
        }
    }

    /** Waits for the payload's banks (hashed on other threads), whatever the outcome. */
    void awaitPayloadQuietly() {
        try {
            awaitPayload();
        } catch (RuntimeException | Error e) {
            // reported by whoever needs the payload's digests
        }
    }

    /**
     * One new daemon thread named {@code name} per task: each kind of hashing thread starts at most a few times per
     * plan, and a pool would outlive the plan for nothing.
     */
    private static java.util.concurrent.Executor daemonThreads(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            t.start();
        };
    }

    /**
     * The banks in two groups of about equal cost (SHA-384/512 cost about twice SHA-1/256 per byte with SHA-NI or
     * without): the costliest bank alone when it weighs at least the rest, else the greedy split. One group when
     * there is one bank or only one core.
     */
    static List<EnumSet<HashAlg>> splitByCost(EnumSet<HashAlg> algs) {
        if (algs.size() < 2 || Runtime.getRuntime().availableProcessors() < 2) return List.of(EnumSet.copyOf(algs));
        List<HashAlg> sorted = new ArrayList<>(algs);
        sorted.sort(java.util.Comparator.comparingInt(Hashing::cost).reversed());
        EnumSet<HashAlg> a = EnumSet.noneOf(HashAlg.class);
        EnumSet<HashAlg> b = EnumSet.noneOf(HashAlg.class);
        int ca = 0;
        int cb = 0;
        for (HashAlg h : sorted) {
            if (ca <= cb) {
                a.add(h);
                ca += cost(h);
            } else {
                b.add(h);
                cb += cost(h);
            }
        }
        return List.of(a, b);
    }

    /** Relative cost per byte. */
    private static int cost(HashAlg a) {
        return a.size >= 48 ? 2 : 1;
    }

    /**
     * The PE/COFF Authenticode digest in every bank of an image held as a buffer (the payload's file mapping the
     * emulator passes through): the payload's digests when the bytes are the payload's (never assumed: a view of
     * the same memory is the same bytes, {@link ByteViews#sameMemory}; any other buffer of the size is compared).
     */
    public Map<HashAlg, byte[]> authenticode(ByteBuffer image) {
        ByteBuffer view = image.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).clear();
        boolean payload;
        synchronized (this) {
            payload = rememberedImage != null && view.capacity() == rememberedImage.capacity()
                    && ByteViews.sameContent(view, rememberedImage.duplicate().clear());
        }
        if (payload) return awaitPayload(); // its other banks may still be hashed: waited for, not hashed again
        beforeLargeRead.run();
        long t0 = System.nanoTime();
        Map<HashAlg, byte[]> d = Authenticode.digests(PeFile.parse(view), banks);
        count(view.capacity(), System.nanoTime() - t0);
        return d;
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
