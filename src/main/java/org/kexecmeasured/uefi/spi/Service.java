package org.kexecmeasured.uefi.spi;

/** A firmware function reached through a trap slot; returns the EFI_STATUS (or other RAX value). */
@FunctionalInterface
public interface Service {

    /** A function the emulated firmware does not offer: it answers EFI_UNSUPPORTED. */
    Service UNSUPPORTED = c -> EfiStatus.UNSUPPORTED;

    long call(Call c);
}
