package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.payload.RealParts;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which images resume capture takes at the stub's jump into the kernel: Debian's kernel (its setup header sets
 * XLF_EFI_KEXEC) but not memtest86+, which carries a "HdrS" header for legacy loaders too (xloadflags 0x9 in
 * Debian's 6.10 build: 64-bit entry and EFI handover, no EFI kexec) and is resumed where its ExitBootServices returns.
 */
class EfiKexecFlagTest {

    @Test
    void debiansKernelSupportsEfiKexecMemtestOnlyLooksLikeAKernel() {
        byte[] kernel = RealParts.read(RealParts.kernel());
        byte[] memtest = RealParts.read(RealParts.require(RealParts.MEMTEST, "memtest86+"));
        assertTrue(ImageServices.isLinuxKernel(kernel) && ImageServices.acceptsEfiKexec(kernel));
        assertTrue(ImageServices.isLinuxKernel(memtest), "memtest86+ has a boot protocol header");
        assertFalse(ImageServices.acceptsEfiKexec(memtest), "but not XLF_EFI_KEXEC");
        byte[] truncated = java.util.Arrays.copyOf(kernel, 0x210);
        assertFalse(ImageServices.acceptsEfiKexec(truncated), "a header cut before xloadflags");
    }
}
