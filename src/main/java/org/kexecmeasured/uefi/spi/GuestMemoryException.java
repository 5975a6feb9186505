package org.kexecmeasured.uefi.spi;

/**
 * A host access to guest memory outside mapped RAM (e.g. a garbage pointer passed to a service), or a host write for
 * the guest into memory the guest cannot write (the read-execute trap page).
 */
public class GuestMemoryException extends RuntimeException {
    private final long address;

    public GuestMemoryException(String message, long address) {
        super(message);
        this.address = address;
    }

    public long address() {
        return address;
    }
}
