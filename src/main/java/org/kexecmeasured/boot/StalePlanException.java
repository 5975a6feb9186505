package org.kexecmeasured.boot;

import org.kexecmeasured.util.BadInputException;

/**
 * The TPM's PCRs (or banks) are no longer those the plan started from: its predictions would be
 * wrong, so the commit refuses before any extend. Bad input (exit 2): nothing changed.
 */
public final class StalePlanException extends BadInputException {
    public StalePlanException(String message) {
        super(message);
    }
}
