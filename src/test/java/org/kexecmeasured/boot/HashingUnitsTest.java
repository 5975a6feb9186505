package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The units of hashing: their order, their threads, cancellation and the wait for all of them. */
class HashingUnitsTest {

    private static final Executor DAEMONS = r -> {
        Thread t = new Thread(r, "units-test");
        t.setDaemon(true);
        t.start();
    };

    /** One worker takes the units in the order they were asked for; a failure fails its unit alone. */
    @Test
    @Timeout(60)
    void oneWorkerRunsTheUnitsInTheOrderAskedAndGoesOnAfterAFailure() {
        HashingUnits units = new HashingUnits(1, DAEMONS);
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        RuntimeException boom = new IllegalStateException("unit 3 fails");
        List<CompletableFuture<Integer>> fs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int n = i;
            fs.add(units.submit(() -> {
                order.add(n);
                if (n == 3) throw boom;
                return n * n;
            }));
        }
        units.awaitIdle();
        assertEquals(List.of(0, 1, 2, 3, 4, 5), order);
        assertSame(boom, assertThrows(CompletionException.class, fs.get(3)::join).getCause());
        assertEquals(25, fs.get(5).join());
    }

    /** At most as many threads as workers, however many units; as many as there are units below that. */
    @Test
    @Timeout(60)
    void threadsStartedAreAtMostTheWorkersAndAtMostTheUnits() throws Exception {
        AtomicInteger started = new AtomicInteger();
        HashingUnits units = new HashingUnits(2, r -> {
            started.incrementAndGet();
            DAEMONS.execute(r);
        });
        CountDownLatch release = new CountDownLatch(1);
        units.submit(() -> await(release));
        assertEquals(1, started.get(), "one unit, one thread");
        for (int i = 0; i < 5; i++) units.submit(() -> await(release));
        assertEquals(2, started.get(), "two workers at most");
        release.countDown();
        units.awaitIdle();
    }

    /**
     * A unit cancelled before its turn never runs (its input is never read); {@link HashingUnits#awaitIdle} returns
     * only once the unit being run has ended.
     */
    @Test
    @Timeout(60)
    void aCancelledUnitNeverRunsAndAwaitIdleWaitsForTheRunningOne() throws Exception {
        HashingUnits units = new HashingUnits(1, DAEMONS);
        CountDownLatch running = new CountDownLatch(1);
        AtomicBoolean firstEnded = new AtomicBoolean();
        AtomicBoolean secondRan = new AtomicBoolean();
        units.submit(() -> {
            running.countDown();
            sleep(300);
            firstEnded.set(true);
            return 1;
        });
        CompletableFuture<Integer> second = units.submit(() -> {
            secondRan.set(true);
            return 2;
        });
        running.await();
        second.cancel(false);
        units.awaitIdle();
        assertTrue(firstEnded.get(), "awaitIdle returned while a unit was running");
        assertFalse(secondRan.get(), "a cancelled unit ran");
    }

    private static int await(CountDownLatch l) {
        try {
            l.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
