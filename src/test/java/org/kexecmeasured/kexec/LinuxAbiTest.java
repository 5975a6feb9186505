package org.kexecmeasured.kexec;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * {@link LinuxAbi}'s offsets, sizes, GUIDs and constants against the kernel's own definitions, laid out by the C
 * compiler: {@code struct boot_params}, {@code struct setup_data} and the setup_data types from the UAPI header
 * {@code <asm/bootparam.h>} (libc6-dev's linux-libc-dev); {@code struct efi_setup_data}, {@code efi_system_table_64_t},
 * {@code efi_config_table_64_t}, {@code efi_memory_desc_t}, {@code struct linux_efi_tpm_eventlog},
 * {@code struct efi_tcg2_final_events_table}, the TPM log GUIDs and the e820 types cut out of the kernel's internal
 * headers (Debian's linux-headers-VERSION-common, the version of the installed kernel) and compiled with
 * {@code offsetof}. Nothing here comes from our own code but the values compared.
 */
class LinuxAbiTest {

    @TempDir
    static Path dir;

    static Map<String, Long> c = new HashMap<>();

    @BeforeAll
    static void compile() throws Exception {
        StringBuilder src = new StringBuilder(KernelHeaders.prelude());
        src.append("""
                #define O(t, f) printf("%s.%s %zu\\n", #t, #f, offsetof(t, f))
                #define S(t) printf("sizeof.%s %zu\\n", #t, sizeof(t))
                #define V(n) printf("%s %llu\\n", #n, (unsigned long long)(n))
                int main(void) {
                  O(struct boot_params, screen_info); S(struct screen_info);
                  O(struct boot_params, efi_info); O(struct efi_info, efi_loader_signature); O(struct efi_info, efi_systab);
                  O(struct efi_info, efi_memdesc_size); O(struct efi_info, efi_memdesc_version); O(struct efi_info, efi_memmap);
                  O(struct efi_info, efi_memmap_size); O(struct efi_info, efi_systab_hi); O(struct efi_info, efi_memmap_hi);
                  O(struct boot_params, e820_entries); O(struct boot_params, secure_boot); O(struct boot_params, hdr);
                  O(struct setup_header, setup_data); O(struct boot_params, e820_table); S(struct boot_e820_entry);
                  O(struct setup_header, ramdisk_image); O(struct setup_header, ramdisk_size); O(struct setup_header, cmd_line_ptr);
                  O(struct boot_params, ext_ramdisk_image); O(struct boot_params, ext_ramdisk_size); O(struct boot_params, ext_cmd_line_ptr);
                  O(struct boot_e820_entry, addr); O(struct boot_e820_entry, size); O(struct boot_e820_entry, type);
                  V(E820_MAX_ENTRIES_ZEROPAGE); S(struct boot_params);
                  S(struct setup_data); O(struct setup_data, next); O(struct setup_data, type); O(struct setup_data, len);
                  V(SETUP_E820_EXT); V(SETUP_EFI); V(SETUP_INDIRECT);
                  S(struct efi_setup_data); O(struct efi_setup_data, fw_vendor); O(struct efi_setup_data, tables);
                  O(struct efi_setup_data, smbios); O(struct efi_setup_data, __unused);
                  O(efi_system_table_64_t, hdr.signature); O(efi_system_table_64_t, nr_tables); O(efi_system_table_64_t, tables);
                  S(efi_system_table_64_t); V(EFI_SYSTEM_TABLE_SIGNATURE);
                  S(efi_config_table_64_t); O(efi_config_table_64_t, table);
                  S(efi_memory_desc_t); O(efi_memory_desc_t, type); O(efi_memory_desc_t, phys_addr); O(efi_memory_desc_t, virt_addr);
                  O(efi_memory_desc_t, num_pages); O(efi_memory_desc_t, attribute); V(EFI_MEMORY_DESCRIPTOR_VERSION);
                  O(struct linux_efi_tpm_eventlog, size); O(struct linux_efi_tpm_eventlog, final_events_preboot_size);
                  O(struct linux_efi_tpm_eventlog, version); O(struct linux_efi_tpm_eventlog, log);
                  V(EFI_TCG2_EVENT_LOG_FORMAT_TCG_2);
                  S(struct efi_tcg2_final_events_table); O(struct efi_tcg2_final_events_table, nr_events);
                  V(E820_TYPE_RAM); V(E820_TYPE_RESERVED); V(E820_TYPE_ACPI); V(E820_TYPE_NVS); V(E820_TYPE_UNUSABLE);
                  V(E820_TYPE_PMEM); V(E820_TYPE_PRAM); V(E820_TYPE_SOFT_RESERVED);
                  printf("guid.tpm_log "); printf(LINUX_EFI_TPM_EVENT_LOG_GUID); printf("\\n");
                  printf("guid.final_log "); printf(LINUX_EFI_TPM_FINAL_LOG_GUID); printf("\\n");
                  return 0;
                }
                """);
        String out = KernelHeaders.compileAndRun(dir, "abi", src.toString());
        for (String l : out.split("\n")) {
            int sp = l.trim().lastIndexOf(' ');
            String key = l.trim().substring(0, sp), value = l.trim().substring(sp + 1);
            if (key.startsWith("guid.")) {
                guids.put(key, value);
            } else {
                c.put(key, Long.parseUnsignedLong(value));
            }
        }
    }

    static Map<String, String> guids = new HashMap<>();

    static long v(String key) {
        Long x = c.get(key);
        assertNotNull(x, key + " not printed by the compiled program");
        return x;
    }

    /** One value the compiled program printed (by its key, or a field's name in {@link #assertFields}) and ours. */
    record Same(String key, long ours) {
    }

    static Same same(String key, long ours) {
        return new Same(key, ours);
    }

    /** Every key's printed value (an offsetof "struct.field", a size "sizeof.struct", a constant) against ours; all are checked. */
    static void assertPrinted(Same... rows) {
        assertAll(Stream.of(rows).map(r -> () -> assertEquals(v(r.key()), r.ours(), r.key())));
    }

    /** The fields of {@code struct} against our offsets, which count from {@code base} (where the struct sits in an outer one). */
    static void assertFields(String struct, long base, Same... fields) {
        assertAll(Stream.of(fields).map(f -> () -> assertEquals(base + v(struct + "." + f.key()), f.ours(), struct + "." + f.key())));
    }

    @Test
    void bootParamsFieldsAreWhereTheUapiHeaderPutsThem() {
        assertFields("struct boot_params", 0, same("screen_info", LinuxAbi.BP_SCREEN_INFO),
                same("e820_entries", LinuxAbi.BP_E820_ENTRIES), same("secure_boot", LinuxAbi.BP_SECURE_BOOT),
                same("e820_table", LinuxAbi.BP_E820_TABLE), same("ext_ramdisk_image", LinuxAbi.BP_EXT_RAMDISK_IMAGE),
                same("ext_ramdisk_size", LinuxAbi.BP_EXT_RAMDISK_SIZE), same("ext_cmd_line_ptr", LinuxAbi.BP_EXT_CMD_LINE_PTR));
        assertFields("struct efi_info", v("struct boot_params.efi_info"),
                same("efi_loader_signature", LinuxAbi.BP_EFI_LOADER_SIGNATURE), same("efi_systab", LinuxAbi.BP_EFI_SYSTAB),
                same("efi_memdesc_size", LinuxAbi.BP_EFI_MEMDESC_SIZE), same("efi_memdesc_version", LinuxAbi.BP_EFI_MEMDESC_VERSION),
                same("efi_memmap", LinuxAbi.BP_EFI_MEMMAP), same("efi_memmap_size", LinuxAbi.BP_EFI_MEMMAP_SIZE),
                same("efi_systab_hi", LinuxAbi.BP_EFI_SYSTAB_HI), same("efi_memmap_hi", LinuxAbi.BP_EFI_MEMMAP_HI));
        assertFields("struct setup_header", v("struct boot_params.hdr"), same("setup_data", LinuxAbi.BP_HDR_SETUP_DATA),
                same("ramdisk_image", LinuxAbi.BP_HDR_RAMDISK_IMAGE), same("ramdisk_size", LinuxAbi.BP_HDR_RAMDISK_SIZE),
                same("cmd_line_ptr", LinuxAbi.BP_HDR_CMD_LINE_PTR));
        assertFields("struct boot_e820_entry", 0, same("addr", 0), same("size", 8), same("type", 16));
        assertPrinted(same("sizeof.struct screen_info", LinuxAbi.SCREEN_INFO_SIZE),
                same("sizeof.struct boot_e820_entry", LinuxAbi.E820_ENTRY_SIZE),
                same("E820_MAX_ENTRIES_ZEROPAGE", LinuxAbi.E820_MAX_ENTRIES_ZEROPAGE),
                same("sizeof.struct boot_params", LinuxAbi.BOOT_PARAMS_SIZE));
    }

    @Test
    void setupDataAndSetupEfiAreLaidOutAsTheKernelDeclaresThem() {
        assertFields("struct setup_data", 0, same("next", LinuxAbi.SD_NEXT), same("type", LinuxAbi.SD_TYPE), same("len", LinuxAbi.SD_LEN));
        assertFields("struct efi_setup_data", 0, same("fw_vendor", LinuxAbi.ESD_FW_VENDOR), same("__unused", LinuxAbi.ESD_RUNTIME),
                same("tables", LinuxAbi.ESD_TABLES), same("smbios", LinuxAbi.ESD_SMBIOS));
        // (1 << 31) is a negative int in the header and ours alike: the 64-bit values agree
        assertPrinted(same("sizeof.struct setup_data", LinuxAbi.SETUP_DATA_HEADER), same("SETUP_E820_EXT", LinuxAbi.SETUP_E820_EXT),
                same("SETUP_EFI", LinuxAbi.SETUP_EFI), same("SETUP_INDIRECT", LinuxAbi.SETUP_INDIRECT),
                same("sizeof.struct efi_setup_data", LinuxAbi.EFI_SETUP_DATA_SIZE));
    }

    @Test
    void efiTablesMemoryDescriptorsAndTheTpmLogTablesMatchIncludeLinuxEfiH() {
        assertFields("efi_system_table_64_t", 0, same("hdr.signature", LinuxAbi.SYSTAB_SIGNATURE),
                same("nr_tables", LinuxAbi.SYSTAB_NR_TABLES), same("tables", LinuxAbi.SYSTAB_TABLES));
        assertFields("efi_config_table_64_t", 0, same("table", LinuxAbi.CT_TABLE));
        assertFields("efi_memory_desc_t", 0, same("type", LinuxAbi.MD_TYPE), same("phys_addr", LinuxAbi.MD_PHYS_ADDR),
                same("virt_addr", LinuxAbi.MD_VIRT_ADDR), same("num_pages", LinuxAbi.MD_NUM_PAGES),
                same("attribute", LinuxAbi.MD_ATTRIBUTE));
        assertFields("struct linux_efi_tpm_eventlog", 0, same("size", LinuxAbi.TPM_LOG_SIZE),
                same("final_events_preboot_size", LinuxAbi.TPM_LOG_FINAL_EVENTS_PREBOOT_SIZE),
                same("version", LinuxAbi.TPM_LOG_VERSION), same("log", LinuxAbi.TPM_LOG_LOG));
        // nr_events follows the table's u64 version
        assertFields("struct efi_tcg2_final_events_table", 0, same("nr_events", 8));
        assertPrinted(same("sizeof.efi_system_table_64_t", LinuxAbi.SYSTAB_64_SIZE),
                same("EFI_SYSTEM_TABLE_SIGNATURE", LinuxAbi.EFI_SYSTEM_TABLE_SIGNATURE),
                same("sizeof.efi_config_table_64_t", LinuxAbi.CONFIG_TABLE_64_SIZE),
                same("sizeof.efi_memory_desc_t", LinuxAbi.EFI_MEMORY_DESC_SIZE),
                same("EFI_MEMORY_DESCRIPTOR_VERSION", LinuxAbi.EFI_MEMORY_DESCRIPTOR_VERSION),
                same("EFI_TCG2_EVENT_LOG_FORMAT_TCG_2", LinuxAbi.EFI_TCG2_EVENT_LOG_FORMAT_TCG_2),
                same("sizeof.struct efi_tcg2_final_events_table", LinuxAbi.FINAL_EVENTS_TABLE_HEADER));
        assertEquals(guids.get("guid.tpm_log"), LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID.toString().toLowerCase());
        assertEquals(guids.get("guid.final_log"), LinuxAbi.LINUX_EFI_TPM_FINAL_LOG_GUID.toString().toLowerCase());
    }

    @Test
    void firmwareMemmapTypeNamesGiveTheKernelsE820Types() {
        assertPrinted(same("E820_TYPE_RAM", LinuxAbi.e820Type("System RAM")), same("E820_TYPE_RAM", LinuxAbi.E820_TYPE_RAM),
                same("E820_TYPE_RESERVED", LinuxAbi.e820Type("Reserved")), same("E820_TYPE_ACPI", LinuxAbi.e820Type("ACPI Tables")),
                same("E820_TYPE_NVS", LinuxAbi.e820Type("ACPI Non-volatile Storage")),
                same("E820_TYPE_UNUSABLE", LinuxAbi.e820Type("Unusable memory")),
                same("E820_TYPE_PMEM", LinuxAbi.e820Type("Persistent Memory")),
                same("E820_TYPE_PRAM", LinuxAbi.e820Type("Persistent Memory (legacy)")),
                // 0xefffffff: a negative int of ours, an unsigned one of the kernel's
                same("E820_TYPE_SOFT_RESERVED", Integer.toUnsignedLong(LinuxAbi.e820Type("Soft Reserved"))),
                same("E820_TYPE_RESERVED", LinuxAbi.e820Type("something new")));
    }
}
