package org.kexecmeasured.uefi.spi;

/** EFI_MEMORY_TYPE. */
public enum MemoryType {
    ReservedMemoryType, LoaderCode, LoaderData, BootServicesCode, BootServicesData, RuntimeServicesCode,
    RuntimeServicesData, ConventionalMemory, UnusableMemory, ACPIReclaimMemory, ACPIMemoryNVS, MemoryMappedIO,
    MemoryMappedIOPortSpace, PalCode, PersistentMemory, UnacceptedMemoryType;

    public static MemoryType of(long v) {
        if (v < 0 || v >= values().length) {
            return null;
        }
        return values()[(int) v];
    }

    public boolean runtime() {
        return this == RuntimeServicesCode || this == RuntimeServicesData;
    }
}
