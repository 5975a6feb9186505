package org.kexecmeasured.boot;

/**
 * Where a boot or a prediction is, for whoever shows it (the CLI draws a progress line on a terminal):
 * the named step, the start of the payload's emulation with its time budget, and each UEFI service call
 * the payload makes (from the emulator's live trace). Purely informative: nothing in the flow depends
 * on it, and {@link #NONE} (the default) costs nothing — the emulator's live trace is switched on only
 * when a listener is given. Called from the thread that runs the boot; implementations must not block.
 */
public interface Progress {

    /** No listener: the flow runs as without one. */
    Progress NONE = new Progress() {
    };

    /** A step of the flow begins ("reading the PCRs", "extending the PCRs"): the name is for an operator. */
    default void step(String step) {
    }

    /** The payload's emulation begins; its wall-time budget ({@code budgetMillis}) counts from now. */
    default void emulationStarted(long budgetMillis) {
    }

    /** The payload called a UEFI boot or runtime service; {@code count} calls so far. */
    default void serviceCall(String service, long count) {
    }

    /** The emulation ended (reached the cut-over, or failed). */
    default void emulationEnded() {
    }
}
