package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmException;

/** The TPM answered a command with an error response code. */
public class TpmCommandException extends TpmException {
    private final TpmRc rc;
    private final String command;

    public TpmCommandException(String command, TpmRc rc) {
        super(command + " failed: " + rc);
        this.rc = rc;
        this.command = command;
    }

    public TpmRc rc() {
        return rc;
    }

    /** The command name, e.g. "TPM2_Unseal". */
    public String command() {
        return command;
    }
}
