package org.kexecmeasured.uefi.spi;

/**
 * Gives firmware functions their guest addresses: each {@link Service} gets an 8-byte slot holding
 * {@code ret} in the firmware's trap page; a guest call to the slot runs the service on the host.
 */
public interface ServiceSlots {

    /**
     * Assigns a trap slot to {@code service}; {@code name} appears in traces and error reports.
     *
     * @return the guest function pointer
     */
    long slot(String name, Service service);
}
