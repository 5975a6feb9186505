package org.kexecmeasured.boot;

import java.nio.file.Path;

/**
 * A run stopped after it had (or may have) changed the TPM: some extends happened, so the PCRs are
 * no longer what they were before the run. The CLI exits 4 ({@code Main.EXIT_TPM_CHANGED}), distinct
 * from 2 (bad input, nothing changed). The message names the journal, what reached the TPM and the
 * recovery command; {@link #partialLog()} is the log of what was acknowledged.
 */
public final class TpmChangedException extends RuntimeException {
    private final Path journal;
    private final Path partialLog;

    public TpmChangedException(String message, Path journal, Path partialLog, Throwable cause) {
        super(message, cause);
        this.journal = journal;
        this.partialLog = partialLog;
    }

    /** The journal that says which extends reached the TPM. */
    public Path journal() {
        return journal;
    }

    /** The firmware log plus every acknowledged extend, or null when none was written. */
    public Path partialLog() {
        return partialLog;
    }
}
