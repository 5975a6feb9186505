package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A unit whose worker thread could not be started (Thread.start's OutOfMemoryError "unable to create native thread")
 * is not left in the queue: no worker would ever take it, and {@link HashingUnits#awaitIdle} — which the plan's
 * failure path calls before the payload's mapping is released — waited for it forever (review of session 8). The
 * timeout only turns that hang into a failure; nothing here is timed.
 */
class HashingUnitsStartFailureTest {

    @Test
    @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // awaitIdle ignores interrupts
    void aUnitNoWorkerCouldTakeDoesNotHoldAwaitIdle() {
        HashingUnits units = new HashingUnits(1, r -> {
            throw new RejectedExecutionException("no thread");
        });
        AtomicBoolean ran = new AtomicBoolean();
        assertThrows(RejectedExecutionException.class, () -> units.submit(() -> ran.getAndSet(true)));
        units.awaitIdle();
        assertFalse(ran.get());
    }
}
