package org.kexecmeasured.uefi;

/**
 * What the emulator asks of the measurement pipeline (tcg2): one call per HashLogExtendEvent of the
 * payload. The emulator itself never talks to a TPM.
 */
public interface Measurer {
    /**
     * @param pcr        PCR index
     * @param eventType  TCG event type (e.g. EV_IPL 0xD)
     * @param eventData  the event's data as given by the payload
     * @param dataToHash the bytes the payload asked to hash (for PE_COFF_IMAGE flags: the image bytes)
     * @param flags      EFI_TCG2 HashLogExtendEvent flags
     */
    void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags);

    /**
     * An image was loaded into guest memory (the point where firmware measures EV_EFI_BOOT_SERVICES_APPLICATION
     * into PCR 4, with the data of a UEFI_IMAGE_LOAD_EVENT). The default does nothing.
     *
     * @param file             the image file as given to LoadImage (or the first payload)
     * @param address          ImageLocationInMemory
     * @param size             ImageLengthInMemory (SizeOfImage)
     * @param linkTimeAddress  ImageLinkTimeAddress (the PE ImageBase)
     * @param devicePath       the image's full device path bytes (may be empty)
     * @param firstImage       true for the payload the emulator started itself
     */
    default void imageLoaded(byte[] file, long address, long size, long linkTimeAddress, byte[] devicePath,
                             boolean firstImage) {
    }

    /**
     * ExitBootServices was called (the point where firmware measures the PCR 5 EV_EFI_ACTION events):
     * {@code success} false for a stale map key ("Returned with Failure"). The default does nothing.
     */
    default void exitBootServices(boolean success) {
    }

    /**
     * The EFI_TCG2 hash-algorithm bitmap (SHA1 0x1, SHA256 0x2, SHA384 0x4, …) that GetCapability and
     * GetActivePcrBanks report: the real TPM's active banks when a TPM is behind the measurer.
     */
    default int activePcrBanks() {
        return 0x1 | 0x2;
    }

    /**
     * The event log the guest's GetEventLog(TCG_2) returns: crypto-agile bytes as they stand now, or null
     * when the measurer keeps none (GetEventLog then reports an empty log).
     */
    default byte[] guestEventLog() {
        return null;
    }

    /** Registers a listener for records appended to {@link #guestEventLog()} later (one TCG_PCR_EVENT2 each). */
    default void onLogAppend(java.util.function.Consumer<byte[]> listener) {
    }
}
