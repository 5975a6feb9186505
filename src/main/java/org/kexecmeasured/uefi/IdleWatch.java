package org.kexecmeasured.uefi;

import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Sees a payload that has stopped making progress: it only waits (Stall, WaitForEvent, CheckEvent, key
 * polling …) while the virtual clock runs on, as systemd's {@code freeze()} after a failed assertion does
 * ({@code for (;;) BS->Stall(60 s)}), or polls without end. Real firmware would sit there forever; here the
 * run ends at once, so a stuck payload costs about a second instead of the whole time budget.
 *
 * <p>Waiting is not a halt by itself: a boot menu with a timeout waits, then goes on. The run ends only when
 * no other service was called for {@link #IDLE_VIRTUAL_NANOS} of virtual time, or for {@link #IDLE_CALLS}
 * waiting calls in a row (a poll loop that does not move the clock).
 */
final class IdleWatch {

    /** Virtual time a payload may only wait: longer than any boot menu timeout worth waiting for. */
    static final long IDLE_VIRTUAL_NANOS = 10L * 60 * 1_000_000_000L;
    /** Waiting calls in a row that end the run even if the clock did not move (a poll loop). */
    static final int IDLE_CALLS = 200_000;

    /** Services that only wait or poll: calling them is no progress. */
    static final Set<String> WAITING = Set.of(BootService.Stall.name(), BootService.WaitForEvent.name(),
            BootService.CheckEvent.name(), BootService.SetTimer.name(), BootService.RaiseTPL.name(),
            BootService.RestoreTPL.name(), BootService.SetWatchdogTimer.name(), RuntimeService.GetTime.name(),
            "ConIn.ReadKeyStroke", "ConInEx.ReadKeyStrokeEx");

    private final LongSupplier nowNanos;
    private long lastProgressNanos;
    private int idleCalls;
    private String halted;

    IdleWatch(LongSupplier nowNanos) {
        this.nowNanos = nowNanos;
    }

    /**
     * Called after every traced service call; returns why the run must end (the payload is stuck), or null.
     */
    String afterCall(String service) {
        long now = nowNanos.getAsLong();
        if (!WAITING.contains(service)) {
            lastProgressNanos = now;
            idleCalls = 0;
            return null;
        }
        idleCalls++;
        long idle = now - lastProgressNanos;
        if (halted == null && (idle >= IDLE_VIRTUAL_NANOS || idleCalls >= IDLE_CALLS)) {
            halted = "the payload stopped making progress: only waiting calls ("
                    + idleCalls + " in a row, last " + service + ") for " + idle / 1_000_000_000L
                    + " s of virtual time, as a payload does after a fatal error";
        }
        return halted;
    }

    /** Why the run was ended as stuck, or null. */
    String halted() {
        return halted;
    }
}
