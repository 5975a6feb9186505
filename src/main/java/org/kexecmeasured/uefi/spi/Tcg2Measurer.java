package org.kexecmeasured.uefi.spi;

import java.util.function.Consumer;

/**
 * What EFI_TCG2_PROTOCOL asks of the measurement pipeline: one call per HashLogExtendEvent of the payload,
 * the active PCR banks, and the event log the guest may read. The emulator itself never talks to a TPM.
 */
public interface Tcg2Measurer {
    /**
     * @param pcr        PCR index
     * @param eventType  TCG event type (e.g. EV_IPL 0xD)
     * @param eventData  the event's data as given by the payload
     * @param dataToHash the bytes the payload asked to hash (for PE_COFF_IMAGE flags: the image bytes)
     * @param flags      EFI_TCG2 HashLogExtendEvent flags
     */
    void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags);

    /**
     * As {@link #measure(int, int, byte[], byte[], long)} with the data still in guest memory, which is what
     * EFI_TCG2_PROTOCOL calls: a measurer that hashes plain data piece by piece overrides this and needs no
     * host copy of it (systemd-stub measures its 50 MiB {@code .initrd}). The default copies it whole.
     */
    default void measure(int pcr, int eventType, byte[] eventData, GuestBytes dataToHash, long flags) {
        measure(pcr, eventType, eventData, dataToHash.toArray(), flags);
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
    default void onLogAppend(Consumer<byte[]> listener) {
    }
}
