package org.kexecmeasured.cli;

import java.util.concurrent.Callable;

/**
 * One piece of a command's work run on a second thread while the command's main thread does another that does not
 * depend on it (the machine has at least two cores; the main thread's path is what the user waits for). The result,
 * or the very exception the piece threw, is handed over by {@link #join}: the command decides where in its flow that
 * happens, so the order in which errors are reported stays the order of the flow's steps, whatever finished first.
 * The thread is a daemon: a command that ends with an error of another step does not wait for it.
 */
final class SideTask<T> {
    private final Thread thread;
    private T result;
    private Throwable failure;

    private SideTask(String name, Callable<T> body) {
        this.thread = new Thread(() -> {
            try {
                result = body.call();
            } catch (Throwable e) {
                failure = e;
            }
        }, name);
        thread.setDaemon(true);
    }

    /** Starts {@code body} on a new daemon thread named {@code name}. */
    static <T> SideTask<T> start(String name, Callable<T> body) {
        SideTask<T> t = new SideTask<>(name, body);
        t.thread.start();
        return t;
    }

    /**
     * Waits for the piece and returns its result, or throws what it threw, unchanged (a checked exception other than
     * an IOException, which no piece here throws, comes wrapped in an IllegalStateException).
     */
    T join() throws java.io.IOException {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join(); // happens-before: the thread's writes of result and failure are seen here
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the piece is short and cannot be abandoned half-way: wait, then restore the flag
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (failure == null) return result;
        if (failure instanceof RuntimeException r) throw r;
        if (failure instanceof Error e) throw e;
        if (failure instanceof java.io.IOException e) throw e;
        throw new IllegalStateException(thread.getName() + ": " + failure, failure);
    }

    /**
     * A step that comes after this piece in the flow's order, run while this piece ran beside it, failed with
     * {@code later}: throws this piece's own error when it has one (it would have stopped the flow first; {@code
     * later} is added to it as suppressed), else {@code later} itself. Declared to return an exception so that callers
     * can write {@code throw task.firstOf(e)}; it always throws.
     */
    RuntimeException firstOf(Throwable later) throws java.io.IOException {
        try {
            join();
        } catch (RuntimeException | Error | java.io.IOException first) {
            if (first != later) first.addSuppressed(later); // the same object: self-suppression would throw instead
            throw first;
        }
        if (later instanceof RuntimeException r) throw r;
        if (later instanceof Error e) throw e;
        if (later instanceof java.io.IOException e) throw e;
        throw new IllegalStateException(later);
    }
}
