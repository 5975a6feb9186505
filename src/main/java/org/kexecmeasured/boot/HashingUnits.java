package org.kexecmeasured.boot;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The hashing a plan does off its main thread, as independent units (one input stream in a group of banks: the
 * payload's Authenticode stream in SHA-384, a section in SHA-1 + SHA-256, ...), taken in the order they were asked
 * for by up to {@code workers} threads (one per core). A plan's main thread waits for some unit at its LoadImage, at
 * a section's measurement and at its end; two units run whenever two are left, so the second core does not idle
 * while it waits, and the order asked (the payload's banks, then the sections in the order a stub measures them, the
 * costliest bank group of each first) is the order the emulation needs them.
 *
 * <p>Reading one stream in two threads (one per bank group) reads its memory twice; libcrypto already reads a direct
 * buffer once per algorithm (each EVP_DigestUpdate gets the whole range), so the traffic is the same, and the
 * pages are faulted in once per process, by whichever thread reads them first (measured on the 60 MiB UKI: the same
 * minor faults, ~11.1k, and the same hashing CPU as one thread per stream).
 */
final class HashingUnits {
    private final int workers;
    private final Executor threads;
    private final ArrayDeque<Unit<?>> queue = new ArrayDeque<>();
    private int running; // worker threads started and not yet returned
    private int busy; // units being run

    /** {@code threads} starts one worker (a new daemon thread in production; tests delay or watch it). */
    HashingUnits(int workers, Executor threads) {
        this.workers = Math.max(1, workers);
        this.threads = threads;
    }

    /** Worker threads for this machine: one per core (the main thread shares them: it mostly waits when they run). */
    static int workersForThisMachine() {
        return Runtime.getRuntime().availableProcessors();
    }

    /**
     * Queues {@code work}, which runs on a worker thread after every unit queued before it has started; its result or
     * failure completes the returned future. A unit whose future is already complete (cancelled) when its turn comes
     * is skipped: it never reads its input.
     */
    <T> CompletableFuture<T> submit(Supplier<T> work) {
        Unit<T> u = new Unit<>(work, new CompletableFuture<>());
        boolean start;
        synchronized (this) {
            queue.add(u);
            start = running < workers && running < queue.size() + busy;
            if (start) running++;
        }
        if (start) {
            try {
                threads.execute(this::work);
            } catch (RuntimeException | Error e) {
                u.result.completeExceptionally(e); // skipped if a running worker takes it
                synchronized (this) {
                    running--;
                    if (running == 0) {
                        // no worker will ever take what is queued: out of the queue, failed, or awaitIdle and the
                        // units' futures wait forever
                        for (Unit<?> q; (q = queue.poll()) != null; ) q.result.completeExceptionally(e);
                    }
                    notifyAll();
                }
                throw e;
            }
        }
        return u.result;
    }

    private void work() {
        while (true) {
            Unit<?> u;
            synchronized (this) {
                u = queue.poll();
                if (u == null) {
                    running--; // a later submit starts a new worker
                    notifyAll();
                    return;
                }
                busy++;
            }
            try {
                u.run();
            } finally {
                synchronized (this) {
                    busy--;
                    notifyAll();
                }
            }
        }
    }

    /**
     * Waits until no unit is queued or being run (whatever their outcomes): after it no worker reads any input
     * queued before the call.
     */
    synchronized void awaitIdle() {
        boolean interrupted = false;
        while (!queue.isEmpty() || busy > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true; // the inputs must not be released while a worker reads them: wait on
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    private record Unit<T>(Supplier<T> work, CompletableFuture<T> result) {
        void run() {
            if (result.isDone()) return; // cancelled before its turn
            try {
                result.complete(work.get());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        }
    }
}
