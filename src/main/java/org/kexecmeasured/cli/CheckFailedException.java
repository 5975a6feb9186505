package org.kexecmeasured.cli;

/** A verification the user asked for did not pass (exit code 1), as opposed to bad input (2). */
public class CheckFailedException extends RuntimeException {
    public CheckFailedException(String message) {
        super(message);
    }
}
