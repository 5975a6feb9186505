package org.kexecmeasured.uefi;

/**
 * {@link RealFirmwareShimGrub} with Secure Boot on: shim verifies GRUB, GRUB has shim verify the kernel and calls its
 * EFI handover entry; on OVMF the kernel's EFI stub then runs, and PCR 9 shows what it measures in that mode.
 */
class RealFirmwareShimGrubSecureBootTest extends RealFirmwareShimGrub {
    @Override
    boolean secureBoot() {
        return true;
    }

    @Override
    HandOff.Entry expectedEntry() {
        return HandOff.Entry.EFI_HANDOVER;
    }
}
