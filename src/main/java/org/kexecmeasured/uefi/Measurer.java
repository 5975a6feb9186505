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
}
