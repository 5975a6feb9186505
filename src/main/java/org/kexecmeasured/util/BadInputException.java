package org.kexecmeasured.util;

/**
 * Input that cannot be used: a malformed file, a truncated log, an impossible option value.
 * The CLI prints the message on one line and exits with code 2. Messages name what was wrong
 * and where (file offset, record number), never internal class names.
 */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
