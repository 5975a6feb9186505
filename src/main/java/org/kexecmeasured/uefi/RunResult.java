package org.kexecmeasured.uefi;

/**
 * How one {@link Cpu#run} ended.
 *
 * @param error       0 if the run ended by stop() or timeout, else the engine's error code
 * @param errorText   the engine's description of {@code error}
 * @param rip         RIP after the run
 * @param faultKind   for memory faults: "read unmapped", "write unmapped", "fetch unmapped", "write protected" …; else null
 * @param faultAddress the faulting address of a memory fault, or -1
 * @param interrupt   the interrupt/exception vector that ended the run, or -1
 * @param elapsedMicros wall time of the run
 */
public record RunResult(int error, String errorText, long rip, String faultKind, long faultAddress,
                        int interrupt, long elapsedMicros) {
    public boolean ok() {
        return error == 0 && interrupt < 0 && faultKind == null;
    }
}
