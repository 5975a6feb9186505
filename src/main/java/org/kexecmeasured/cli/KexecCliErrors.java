package org.kexecmeasured.cli;

import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.util.BadInputException;

/**
 * A kexec refusal as the exception that gives its documented exit code: a signature the kernel
 * rejected is a failed check (1); an image the kernel's loader does not take, or a refusal for outside
 * reasons (not root, disabled, busy, memory, no crash reservation), is 2 — nothing changed; an errno
 * that means a bug here is internal (70).
 */
final class KexecCliErrors {
    private KexecCliErrors() {
    }

    static RuntimeException of(KexecException e) {
        return of(e, "");
    }

    /** The same with {@code after} appended to the message (what the failure left unchanged). */
    static RuntimeException of(KexecException e, String after) {
        String m = e.getMessage() + after;
        return switch (e.kind()) {
            case SIGNATURE_REJECTED -> new CheckFailedException(m);
            case BAD_IMAGE, REFUSED -> new BadInputException(m, e);
            case INTERNAL -> new IllegalStateException(m, e);
        };
    }
}
