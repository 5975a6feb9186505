package org.kexecmeasured.uefi;

/** A firmware function reached through a trap slot; returns the EFI_STATUS (or other RAX value). */
@FunctionalInterface
public interface Service {
    long call(Call c);
}
