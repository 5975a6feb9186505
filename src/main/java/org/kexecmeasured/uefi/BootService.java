package org.kexecmeasured.uefi;

/**
 * The function pointers of EFI_BOOT_SERVICES in table order (UEFI 2.10 §4.4), after the 24-byte
 * EFI_TABLE_HEADER. {@link Firmware} maps every constant to its implementation or to UNSUPPORTED in one
 * exhaustive switch, so no slot can be forgotten and a misspelt name does not compile.
 */
public enum BootService {
    // Task Priority Services
    RaiseTPL, RestoreTPL,
    // Memory Services
    AllocatePages, FreePages, GetMemoryMap, AllocatePool, FreePool,
    // Event & Timer Services
    CreateEvent, SetTimer, WaitForEvent, SignalEvent, CloseEvent, CheckEvent,
    // Protocol Handler Services
    InstallProtocolInterface, ReinstallProtocolInterface, UninstallProtocolInterface, HandleProtocol, Reserved,
    RegisterProtocolNotify, LocateHandle, LocateDevicePath, InstallConfigurationTable,
    // Image Services
    LoadImage, StartImage, Exit, UnloadImage, ExitBootServices,
    // Miscellaneous Services
    GetNextMonotonicCount, Stall, SetWatchdogTimer,
    // DriverSupport Services
    ConnectController, DisconnectController,
    // Open and Close Protocol Services
    OpenProtocol, CloseProtocol, OpenProtocolInformation,
    // Library Services
    ProtocolsPerHandle, LocateHandleBuffer, LocateProtocol, InstallMultipleProtocolInterfaces,
    UninstallMultipleProtocolInterfaces,
    // 32-bit CRC Services
    CalculateCrc32,
    // Miscellaneous Services
    CopyMem, SetMem, CreateEventEx;

    /** EFI_BOOT_SERVICES_SIGNATURE "BOOTSERV". */
    public static final long SIGNATURE = 0x56524553544f4f42L;

    /** Byte offset of this function pointer in EFI_BOOT_SERVICES. */
    public int offset() {
        return ServiceTable.HEADER_SIZE + 8 * ordinal();
    }
}
