package org.kexecmeasured.tpm.error;

/** A TPM operation failed: the TPM returned an error, or it could not be reached. */
public class TpmException extends RuntimeException {
    public TpmException(String message) {
        super(message);
    }

    public TpmException(String message, Throwable cause) {
        super(message, cause);
    }
}
