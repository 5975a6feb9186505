package org.kexecmeasured.cli;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.kexecmeasured.boot.Progress;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;

/**
 * One status line on a terminal's stderr while a command works longer than a second: for {@code emulate}
 * the phase, the UEFI service calls made so far, the time spent and what is left of the time budget;
 * for {@code boot} and {@code predict} the step of the flow ({@link Progress}: reading the PCRs, hashing,
 * emulating, deciding, loading, extending) and, while the payload runs, the same calls and budget.
 * Redrawn in place a few times a second and erased at the end. Silent unless both stdout and stderr are
 * terminals and no machine-readable output was asked for ({@code --json}): a pipe, a file or the journal
 * never sees it. The flow reports through {@link Progress}; a daemon thread draws, so a long stretch
 * without service calls (a kernel decompressing itself, a slow TPM) still shows the time moving. Other
 * text for stderr during the run goes through {@link #print}, which erases the line first.
 */
final class ProgressLine implements AutoCloseable, Progress {
    static final Duration QUIET = Duration.ofSeconds(1);
    static final long REDRAW_MILLIS = 250;

    private final PrintWriter err;
    /** "emulating, " for emulate (whose whole run is the emulation), else the command and a colon. */
    private final String prefix;
    private final boolean wholeRunEmulates;
    private final long start = System.nanoTime();
    private final Thread drawer;
    private volatile String step;
    private volatile String phase = "starting";
    private volatile long calls = -1;
    private volatile long budgetMillis;
    /** System.nanoTime() when the emulation began; its budget counts from there. */
    private volatile long budgetStart;
    private volatile boolean emulating;
    private volatile boolean closed;
    private boolean drawn;

    private ProgressLine(PrintWriter err, String prefix, boolean wholeRunEmulates, long budgetMillis, boolean enabled) {
        this.err = err;
        this.prefix = prefix;
        this.wholeRunEmulates = wholeRunEmulates;
        if (wholeRunEmulates) {
            this.budgetMillis = budgetMillis;
            this.budgetStart = start;
            this.emulating = true;
            this.calls = 0;
        }
        if (enabled) {
            drawer = new Thread(this::drawLoop, "progress-line");
            drawer.setDaemon(true);
            drawer.start();
        } else {
            drawer = null;
        }
    }

    /** {@code emulate}'s line when the streams are terminals and {@code json} is off; otherwise one that draws nothing. */
    static ProgressLine open(PrintWriter err, boolean json, long budgetMillis) {
        return new ProgressLine(err, "emulating, ", true, budgetMillis, wanted(json));
    }

    /**
     * The line of a command whose emulation is one step among others ({@code boot}, {@code predict}),
     * fed through {@link Progress}; draws nothing unless the streams are terminals and {@code json} is off.
     */
    static ProgressLine forSteps(String command, PrintWriter err, boolean json) {
        return new ProgressLine(err, command + ": ", false, 0, wanted(json));
    }

    private static boolean wanted(boolean json) {
        return !json && Terminal.isTerminal(1) && Terminal.isTerminal(2);
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

    @Override
    public void step(String step) {
        this.step = step;
    }

    @Override
    public void emulationStarted(long budgetMillis) {
        this.phase = "boot services";
        this.calls = 0;
        this.budgetMillis = budgetMillis;
        this.budgetStart = System.nanoTime();
        this.emulating = true;
    }

    @Override
    public void serviceCall(String service, long count) {
        call(service, count);
    }

    @Override
    public void emulationEnded() {
        this.emulating = false;
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

    /** Text for stderr while the line may be drawn (a warning): the line is erased first and drawn again at the next redraw. */
    synchronized void print(Runnable printToErr) {
        if (drawn) {
            err.print("\r\033[K");
            drawn = false;
        }
        printToErr.run();
        err.flush();
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
        long now = System.nanoTime();
        long elapsed = (now - start) / 1_000_000;
        String text;
        if (wholeRunEmulates) {
            text = line(phase, calls, elapsed, budgetMillis);
        } else {
            boolean e = emulating;
            text = stepLine(prefix, step, e ? phase : null, e ? calls : -1, elapsed,
                    e ? budgetMillis - (now - budgetStart) / 1_000_000 : -1, budgetMillis);
        }
        err.print("\r\033[K" + text);
        err.flush();
        drawn = true;
    }

    /** {@code emulate}'s line (no control characters). */
    static String line(String phase, long calls, long elapsedMillis, long budgetMillis) {
        String s = String.format(Locale.ROOT, "kexec-measured: emulating, %s · %,d service calls · %.1f s", phase, calls,
                elapsedMillis / 1000.0);
        return s + budget(Math.max(0, budgetMillis - elapsedMillis), budgetMillis);
    }

    /**
     * The line of {@code boot} and {@code predict} (no control characters): the step, while emulating its
     * phase; the service calls once the emulation began; the time since the command started; while
     * emulating, what is left of the budget ({@code leftMillis} &lt; 0: not emulating).
     */
    static String stepLine(String prefix, String step, String phase, long calls, long elapsedMillis, long leftMillis,
                           long budgetMillis) {
        StringBuilder s = new StringBuilder("kexec-measured: ").append(prefix).append(step == null ? "starting" : step);
        if (phase != null) s.append(", ").append(phase);
        if (calls >= 0) s.append(String.format(Locale.ROOT, " · %,d service calls", calls));
        s.append(String.format(Locale.ROOT, " · %.1f s", elapsedMillis / 1000.0));
        if (leftMillis >= 0 || phase != null) s.append(budget(Math.max(0, leftMillis), budgetMillis));
        return s.toString();
    }

    private static String budget(long leftMillis, long budgetMillis) {
        if (budgetMillis <= 0 || budgetMillis >= Long.MAX_VALUE / 2) return "";
        return String.format(Locale.ROOT, " · %.0f s left of the %.0f s budget", leftMillis / 1000.0, budgetMillis / 1000.0);
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
                drawn = false;
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
