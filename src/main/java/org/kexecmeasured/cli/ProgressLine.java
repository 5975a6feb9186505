package org.kexecmeasured.cli;

import com.sun.jna.Library;
import com.sun.jna.Native;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;

/**
 * One status line on a terminal's stderr while an emulation runs longer than a second: the phase,
 * the UEFI service calls made so far, the time spent and what is left of the time budget, redrawn in
 * place a few times a second and erased at the end. Silent unless both stdout and stderr are
 * terminals and no machine-readable output was asked for ({@code --json}): a pipe, a file or the
 * journal never sees it. The emulator reports through {@link #update}; a daemon thread draws, so a
 * long stretch without service calls (a kernel decompressing itself) still shows the time moving.
 */
final class ProgressLine implements AutoCloseable {
    static final Duration QUIET = Duration.ofSeconds(1);
    static final long REDRAW_MILLIS = 250;

    private final PrintWriter err;
    private final long budgetMillis;
    private final long start = System.nanoTime();
    private final Thread drawer;
    private volatile String phase = "starting";
    private volatile long calls;
    private volatile boolean closed;
    private boolean drawn;

    private ProgressLine(PrintWriter err, long budgetMillis, boolean enabled) {
        this.err = err;
        this.budgetMillis = budgetMillis;
        if (enabled) {
            drawer = new Thread(this::drawLoop, "progress-line");
            drawer.setDaemon(true);
            drawer.start();
        } else {
            drawer = null;
        }
    }

    /** A progress line when the streams are terminals and {@code json} is off; otherwise one that draws nothing. */
    static ProgressLine open(PrintWriter err, boolean json, long budgetMillis) {
        return new ProgressLine(err, budgetMillis, !json && Terminal.isTerminal(1) && Terminal.isTerminal(2));
    }

    /** Called by the emulator (any thread): the current phase and the number of service calls so far. */
    void update(String phase, long calls) {
        this.phase = phase;
        this.calls = calls;
    }

    /** One service call seen in the emulator's live trace ({@code count} calls so far). */
    void call(String service, long count) {
        update(phaseAfter(service, phase), count);
    }

    /**
     * The phase after a service call: the emulator's live trace names each call, and a few of them
     * mark where the boot is (an image loaded or started, boot services left).
     */
    static String phaseAfter(String service, String current) {
        return switch (service) {
            case "LoadImage" -> "loading an image";
            case "StartImage" -> "running a started image";
            case "ExitBootServices" -> "after ExitBootServices";
            default -> current;
        };
    }

    boolean enabled() {
        return drawer != null;
    }

    private void drawLoop() {
        try {
            Thread.sleep(QUIET.toMillis());
            while (!closed) {
                draw();
                Thread.sleep(REDRAW_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized void draw() {
        if (closed) return;
        err.print("\r\033[K" + line(phase, calls, (System.nanoTime() - start) / 1_000_000, budgetMillis));
        err.flush();
        drawn = true;
    }

    /** The text of the line (no control characters). */
    static String line(String phase, long calls, long elapsedMillis, long budgetMillis) {
        String s = String.format(Locale.ROOT, "kexec-measured: emulating, %s · %,d service calls · %.1f s", phase, calls,
                elapsedMillis / 1000.0);
        if (budgetMillis > 0 && budgetMillis < Long.MAX_VALUE / 2) {
            s += String.format(Locale.ROOT, " · %.0f s left of the %.0f s budget",
                    Math.max(0, budgetMillis - elapsedMillis) / 1000.0, budgetMillis / 1000.0);
        }
        return s;
    }

    /** Stops drawing and erases the line, so the command's own output starts on a clean line. */
    @Override
    public void close() {
        closed = true;
        if (drawer == null) return;
        drawer.interrupt();
        try {
            drawer.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            if (drawn) {
                err.print("\r\033[K");
                err.flush();
            }
        }
    }

    /** isatty(3) through JNA: Java's System.console() needs stdin to be a terminal too. */
    static final class Terminal {
        private interface LibC extends Library {
            int isatty(int fd);
        }

        private Terminal() {
        }

        static boolean isTerminal(int fd) {
            try {
                return Native.load("c", LibC.class).isatty(fd) == 1;
            } catch (UnsatisfiedLinkError e) {
                return false;
            }
        }
    }
}
