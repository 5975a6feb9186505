package org.kexecmeasured.uefi;

/** The emulated payload failed or exceeded a budget; the message says where (RIP, address, last calls). */
public class EmulationException extends RuntimeException {
    public EmulationException(String message) {
        super(message);
    }

    public EmulationException(String message, Throwable cause) {
        super(message, cause);
    }
}
