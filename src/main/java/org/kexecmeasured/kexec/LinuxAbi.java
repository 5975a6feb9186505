package org.kexecmeasured.kexec;

import org.kexecmeasured.efi.Guid;

/**
 * Layouts of the Linux x86_64 structures the resume hand-over writes, with the names and offsets of their
 * definitions (checked against the kernel's own headers by {@code LinuxAbiTest}, which compiles them with the C
 * compiler):
 * <ul>
 *   <li>{@code struct boot_params}, {@code struct setup_data}, {@code struct boot_e820_entry}:
 *   arch/x86/include/uapi/asm/bootparam.h;</li>
 *   <li>{@code struct efi_setup_data}: arch/x86/include/asm/efi.h (SETUP_EFI's payload);</li>
 *   <li>{@code efi_system_table_64_t}, {@code efi_config_table_64_t}, {@code efi_memory_desc_t},
 *   {@code struct linux_efi_tpm_eventlog}, {@code struct efi_tcg2_final_events_table}: include/linux/efi.h and
 *   include/linux/tpm_eventlog.h.</li>
 * </ul>
 */
public final class LinuxAbi {
    private LinuxAbi() {
    }

    /** boot_params: one page. */
    public static final int BOOT_PARAMS_SIZE = 4096;
    /** boot_params.screen_info (struct screen_info, 0x40 bytes). */
    public static final int BP_SCREEN_INFO = 0x000, SCREEN_INFO_SIZE = 0x40;
    /** boot_params.efi_info (struct efi_info) and its fields. */
    public static final int BP_EFI_LOADER_SIGNATURE = 0x1c0, BP_EFI_SYSTAB = 0x1c4, BP_EFI_MEMDESC_SIZE = 0x1c8,
            BP_EFI_MEMDESC_VERSION = 0x1cc, BP_EFI_MEMMAP = 0x1d0, BP_EFI_MEMMAP_SIZE = 0x1d4, BP_EFI_SYSTAB_HI = 0x1d8,
            BP_EFI_MEMMAP_HI = 0x1dc;
    /** boot_params.e820_entries (u8), .secure_boot (u8). */
    public static final int BP_E820_ENTRIES = 0x1e8, BP_SECURE_BOOT = 0x1ec;
    /** boot_params.hdr.ramdisk_image, .ramdisk_size, .cmd_line_ptr (u32) and their high halves ext_* (u32). */
    public static final int BP_HDR_RAMDISK_IMAGE = 0x218, BP_HDR_RAMDISK_SIZE = 0x21c, BP_HDR_CMD_LINE_PTR = 0x228,
            BP_EXT_RAMDISK_IMAGE = 0x0c0, BP_EXT_RAMDISK_SIZE = 0x0c4, BP_EXT_CMD_LINE_PTR = 0x0c8;
    /** boot_params.hdr.setup_data (u64: physical address of the first setup_data node). */
    public static final int BP_HDR_SETUP_DATA = 0x250;
    /** boot_params.e820_table: E820_MAX_ENTRIES_ZEROPAGE entries of struct boot_e820_entry (packed, 20 bytes). */
    public static final int BP_E820_TABLE = 0x2d0, E820_MAX_ENTRIES_ZEROPAGE = 128, E820_ENTRY_SIZE = 20;
    /** The EFI stub's efi_loader_signature for a 64-bit firmware. */
    public static final String EFI64_LOADER_SIGNATURE = "EL64";

    /** struct setup_data: u64 next, u32 type, u32 len, then len bytes of data. */
    public static final int SETUP_DATA_HEADER = 16, SD_NEXT = 0, SD_TYPE = 8, SD_LEN = 12;
    /** setup_data types. */
    public static final int SETUP_E820_EXT = 1, SETUP_EFI = 4, SETUP_INDIRECT = 1 << 31;

    /** struct efi_setup_data: fw_vendor, __unused (formerly runtime), tables, smbios, reserved[8]. */
    public static final int EFI_SETUP_DATA_SIZE = 96, ESD_FW_VENDOR = 0, ESD_RUNTIME = 8, ESD_TABLES = 16, ESD_SMBIOS = 24;

    /** efi_system_table_64_t: the header signature, nr_tables and tables. */
    public static final int SYSTAB_SIGNATURE = 0, SYSTAB_NR_TABLES = 104, SYSTAB_TABLES = 112, SYSTAB_64_SIZE = 120;
    /** EFI_SYSTEM_TABLE_SIGNATURE ("IBI SYST"). */
    public static final long EFI_SYSTEM_TABLE_SIGNATURE = 0x5453595320494249L;

    /** efi_config_table_64_t: GUID, u64 table. */
    public static final int CONFIG_TABLE_64_SIZE = 24, CT_TABLE = 16;

    /** efi_memory_desc_t (the size kexec-tools passes as efi_memdesc_size) and EFI_MEMORY_DESCRIPTOR_VERSION. */
    public static final int EFI_MEMORY_DESC_SIZE = 40, MD_TYPE = 0, MD_PHYS_ADDR = 8, MD_VIRT_ADDR = 16,
            MD_NUM_PAGES = 24, MD_ATTRIBUTE = 32, EFI_MEMORY_DESCRIPTOR_VERSION = 1;

    /** struct linux_efi_tpm_eventlog: u32 size, u32 final_events_preboot_size, u8 version, u8 log[]. */
    public static final int TPM_LOG_SIZE = 0, TPM_LOG_FINAL_EVENTS_PREBOOT_SIZE = 4, TPM_LOG_VERSION = 8, TPM_LOG_LOG = 9;
    /** EFI_TCG2_EVENT_LOG_FORMAT_TCG_2: the crypto-agile log. */
    public static final int EFI_TCG2_EVENT_LOG_FORMAT_TCG_2 = 2;
    /** struct efi_tcg2_final_events_table: u64 version, u64 nr_events, events[]; version 1 (EFI_TCG2_FINAL_EVENTS_TABLE_VERSION). */
    public static final int FINAL_EVENTS_TABLE_HEADER = 16, FINAL_EVENTS_VERSION = 1;

    /** LINUX_EFI_TPM_EVENT_LOG_GUID: the stub's copy of the firmware's TCG2 log. */
    public static final Guid LINUX_EFI_TPM_EVENT_LOG_GUID = Guid.parse("b7799cb0-eca2-4943-9667-1fae07b747fa");
    /** EFI_TCG2_FINAL_EVENTS_TABLE_GUID (LINUX_EFI_TPM_FINAL_LOG_GUID in Linux). */
    public static final Guid LINUX_EFI_TPM_FINAL_LOG_GUID = Guid.parse("1e2ed096-30e2-4254-bd89-863bbef82325");

    /** E820 types (arch/x86/include/asm/e820/types.h) by the names /sys/firmware/memmap/N/type gives them. */
    public static int e820Type(String sysfsType) {
        return switch (sysfsType) {
            case "System RAM" -> 1;
            case "Reserved", "reserved" -> 2;
            case "ACPI Tables" -> 3;
            case "ACPI Non-volatile Storage" -> 4;
            case "Unusable memory" -> 5;
            case "Persistent Memory" -> 7;
            case "Persistent Memory (legacy)" -> 12;
            case "Soft Reserved" -> 0xefffffff;
            default -> 2; // anything else the kernel does not know as RAM stays away from the allocator
        };
    }

    /** E820_TYPE_RAM. */
    public static final int E820_TYPE_RAM = 1;
}
