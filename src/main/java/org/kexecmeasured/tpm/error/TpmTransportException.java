package org.kexecmeasured.tpm.error;

/** The TPM could not be reached, stopped answering or sent a malformed response. */
public class TpmTransportException extends TpmException {
    public TpmTransportException(String message) {
        super(message);
    }

    public TpmTransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
