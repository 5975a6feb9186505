package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.Tcg2Measurer;

/**
 * What the emulator asks of the measurement pipeline (the boot orchestrator): everything the payload
 * measures through EFI_TCG2_PROTOCOL ({@link Tcg2Measurer}), plus the points where the firmware itself
 * measures: an image load (PCR 4) and ExitBootServices (PCR 5). The emulator itself never talks to a TPM.
 */
public interface Measurer extends Tcg2Measurer {

    /**
     * An image was loaded into guest memory (the point where firmware measures EV_EFI_BOOT_SERVICES_APPLICATION
     * into PCR 4, with the data of a UEFI_IMAGE_LOAD_EVENT). The default does nothing.
     *
     * @param file             the image file as given to LoadImage (or the first payload, possibly its file mapping), a
     *                         view at position 0 that must not be changed
     * @param address          ImageLocationInMemory
     * @param size             ImageLengthInMemory (SizeOfImage)
     * @param linkTimeAddress  ImageLinkTimeAddress (the PE ImageBase)
     * @param devicePath       the image's full device path bytes (may be empty)
     * @param firstImage       true for the payload the emulator started itself
     */
    default void imageLoaded(java.nio.ByteBuffer file, long address, long size, long linkTimeAddress, byte[] devicePath,
                             boolean firstImage) {
    }

    /**
     * ExitBootServices was called (the point where firmware measures the PCR 5 EV_EFI_ACTION events):
     * {@code success} false for a stale map key ("Returned with Failure"). The default does nothing.
     */
    default void exitBootServices(boolean success) {
    }
}
