package org.kexecmeasured.uefi.spi;

/** Randomness the emulated firmware hands out (EFI_RNG_PROTOCOL). */
@FunctionalInterface
public interface RandomSource {
    void fill(byte[] out);
}
