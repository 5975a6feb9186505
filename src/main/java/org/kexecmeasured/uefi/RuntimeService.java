package org.kexecmeasured.uefi;

/**
 * The function pointers of EFI_RUNTIME_SERVICES in table order (UEFI 2.10 §4.5), after the 24-byte
 * EFI_TABLE_HEADER. {@link RuntimeServices} maps every constant in one exhaustive switch.
 */
public enum RuntimeService {
    // Time Services
    GetTime, SetTime, GetWakeupTime, SetWakeupTime,
    // Virtual Memory Services
    SetVirtualAddressMap, ConvertPointer,
    // Variable Services
    GetVariable, GetNextVariableName, SetVariable,
    // Miscellaneous Services
    GetNextHighMonotonicCount, ResetSystem,
    // UEFI 2.0 Capsule Services
    UpdateCapsule, QueryCapsuleCapabilities,
    // Miscellaneous UEFI 2.0 Service
    QueryVariableInfo;

    /** EFI_RUNTIME_SERVICES_SIGNATURE "RUNTSERV". */
    public static final long SIGNATURE = 0x56524553544e5552L;

    /** Byte offset of this function pointer in EFI_RUNTIME_SERVICES. */
    public int offset() {
        return ServiceTable.HEADER_SIZE + 8 * ordinal();
    }
}
