package org.kexecmeasured.uefi.spi;

/**
 * How one {@link Cpu#run} ended.
 *
 * @param end          why the run ended
 * @param rip          RIP after the run; for {@link End#HALTED} the address of the {@code hlt}; for
 *                     {@link End#MEMORY_FAULT} the start of the faulting code block
 * @param detail       for {@link End#MEMORY_FAULT} the kind ("read of unmapped memory" …), for
 *                     {@link End#ENGINE_ERROR} the engine's description, for {@link End#RUNAWAY_CODE} what the
 *                     code does; else null
 * @param faultAddress the faulting address of a memory fault, or -1
 * @param interrupt    the interrupt/exception vector of {@link End#CPU_EXCEPTION}, or -1
 * @param hostFailure  the Throwable a host hook raised ({@link End#HOST_ERROR}), or null
 * @param elapsedMicros wall time of the run
 */
public record RunResult(End end, long rip, String detail, long faultAddress, int interrupt, Throwable hostFailure,
                        long elapsedMicros) {

    /** Why a run ended. */
    public enum End {
        /** {@link Cpu#stop()} was called (a service ended the run: a cut-over, a failure, a host call's return). */
        STOPPED,
        /** The run's timeout passed. */
        TIMED_OUT,
        /** The guest executed {@code hlt}: nothing would ever wake it (no interrupts are delivered). */
        HALTED,
        /** An access to unmapped or protected memory. */
        MEMORY_FAULT,
        /** A CPU exception or software interrupt (#UD, #GP, #PF, int3 …). */
        CPU_EXCEPTION,
        /** The engine reported an error of its own. */
        ENGINE_ERROR,
        /**
         * Code the engine would translate without end (zeroed memory, a self-modifying loop, runaway code);
         * {@code detail} says which. Stopped before it exhausts the engine (issue 10 item 1).
         */
        RUNAWAY_CODE,
        /** A host hook threw (its Throwable is in {@code hostFailure}); the run was stopped. */
        HOST_ERROR
    }
}
