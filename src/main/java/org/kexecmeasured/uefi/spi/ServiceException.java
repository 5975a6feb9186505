package org.kexecmeasured.uefi.spi;

/**
 * A firmware service cannot complete and no EFI_STATUS can say why (a guest error the real firmware would
 * fault or assert on, or firmware resources exhausted): the run stops, and its report is
 * "{@code <service>: <message>}". Protocols and CPU engines throw this; the firmware core turns it into the
 * run's failure.
 */
public class ServiceException extends RuntimeException {
    public ServiceException(String message) {
        super(message);
    }
}
