package org.kexecmeasured.uefi;

/** {@link RealFirmwareShimGrub} with Secure Boot off: GRUB 2.06's legacy loader enters the kernel through the boot protocol. */
class RealFirmwareShimGrubTest extends RealFirmwareShimGrub {
    @Override
    boolean secureBoot() {
        return false;
    }

    @Override
    HandOff.Entry expectedEntry() {
        return HandOff.Entry.BOOT_PROTOCOL;
    }
}
