package org.kexecmeasured.kexec;

/**
 * The kernel refused a kexec operation, or it could not be attempted. Nothing was loaded or
 * changed by the failed call. {@link #kind()} says which exit code the CLI gives it.
 */
public final class KexecException extends RuntimeException {

    /** How a failure is reported (exit codes of {@code cli.Main}). */
    public enum Kind {
        /** The kernel checked the image's signature and rejected it: a check failed (exit 1). */
        SIGNATURE_REJECTED,
        /** The image is not one the kernel's loader accepts (e.g. not a bzImage): bad input (exit 2). */
        BAD_IMAGE,
        /** Refused for a reason outside the image (not root, disabled, busy, memory, no crash reservation): exit 2. */
        REFUSED,
        /** An errno that means a bug here (bad fd, bad pointer): internal error (exit 70). */
        INTERNAL
    }

    private final Kind kind;
    private final int errno;

    public KexecException(Kind kind, int errno, String message) {
        super(message);
        this.kind = kind;
        this.errno = errno;
    }

    public Kind kind() {
        return kind;
    }

    /** The errno of the failed system call, 0 if the operation was refused before any call. */
    public int errno() {
        return errno;
    }
}
