package org.kexecmeasured.kexec;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

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

    @Test
    void bootParamsFieldsAreWhereTheUapiHeaderPutsThem() {
        assertEquals(v("struct boot_params.screen_info"), LinuxAbi.BP_SCREEN_INFO);
        assertEquals(v("sizeof.struct screen_info"), LinuxAbi.SCREEN_INFO_SIZE);
        long efiInfo = v("struct boot_params.efi_info");
        assertEquals(efiInfo + v("struct efi_info.efi_loader_signature"), LinuxAbi.BP_EFI_LOADER_SIGNATURE);
        assertEquals(efiInfo + v("struct efi_info.efi_systab"), LinuxAbi.BP_EFI_SYSTAB);
        assertEquals(efiInfo + v("struct efi_info.efi_memdesc_size"), LinuxAbi.BP_EFI_MEMDESC_SIZE);
        assertEquals(efiInfo + v("struct efi_info.efi_memdesc_version"), LinuxAbi.BP_EFI_MEMDESC_VERSION);
        assertEquals(efiInfo + v("struct efi_info.efi_memmap"), LinuxAbi.BP_EFI_MEMMAP);
        assertEquals(efiInfo + v("struct efi_info.efi_memmap_size"), LinuxAbi.BP_EFI_MEMMAP_SIZE);
        assertEquals(efiInfo + v("struct efi_info.efi_systab_hi"), LinuxAbi.BP_EFI_SYSTAB_HI);
        assertEquals(efiInfo + v("struct efi_info.efi_memmap_hi"), LinuxAbi.BP_EFI_MEMMAP_HI);
        assertEquals(v("struct boot_params.e820_entries"), LinuxAbi.BP_E820_ENTRIES);
        assertEquals(v("struct boot_params.secure_boot"), LinuxAbi.BP_SECURE_BOOT);
        assertEquals(v("struct boot_params.hdr") + v("struct setup_header.setup_data"), LinuxAbi.BP_HDR_SETUP_DATA);
        assertEquals(v("struct boot_params.e820_table"), LinuxAbi.BP_E820_TABLE);
        long hdr = v("struct boot_params.hdr");
        assertEquals(hdr + v("struct setup_header.ramdisk_image"), LinuxAbi.BP_HDR_RAMDISK_IMAGE);
        assertEquals(hdr + v("struct setup_header.ramdisk_size"), LinuxAbi.BP_HDR_RAMDISK_SIZE);
        assertEquals(hdr + v("struct setup_header.cmd_line_ptr"), LinuxAbi.BP_HDR_CMD_LINE_PTR);
        assertEquals(v("struct boot_params.ext_ramdisk_image"), LinuxAbi.BP_EXT_RAMDISK_IMAGE);
        assertEquals(v("struct boot_params.ext_ramdisk_size"), LinuxAbi.BP_EXT_RAMDISK_SIZE);
        assertEquals(v("struct boot_params.ext_cmd_line_ptr"), LinuxAbi.BP_EXT_CMD_LINE_PTR);
        assertEquals(v("sizeof.struct boot_e820_entry"), LinuxAbi.E820_ENTRY_SIZE);
        assertEquals(0, v("struct boot_e820_entry.addr"));
        assertEquals(8, v("struct boot_e820_entry.size"));
        assertEquals(16, v("struct boot_e820_entry.type"));
        assertEquals(v("E820_MAX_ENTRIES_ZEROPAGE"), LinuxAbi.E820_MAX_ENTRIES_ZEROPAGE);
        assertEquals(v("sizeof.struct boot_params"), LinuxAbi.BOOT_PARAMS_SIZE);
    }

    @Test
    void setupDataAndSetupEfiAreLaidOutAsTheKernelDeclaresThem() {
        assertEquals(v("sizeof.struct setup_data"), LinuxAbi.SETUP_DATA_HEADER);
        assertEquals(v("struct setup_data.next"), LinuxAbi.SD_NEXT);
        assertEquals(v("struct setup_data.type"), LinuxAbi.SD_TYPE);
        assertEquals(v("struct setup_data.len"), LinuxAbi.SD_LEN);
        assertEquals(v("SETUP_E820_EXT"), LinuxAbi.SETUP_E820_EXT);
        assertEquals(v("SETUP_EFI"), LinuxAbi.SETUP_EFI);
        assertEquals((int) v("SETUP_INDIRECT"), LinuxAbi.SETUP_INDIRECT);
        assertEquals(v("sizeof.struct efi_setup_data"), LinuxAbi.EFI_SETUP_DATA_SIZE);
        assertEquals(v("struct efi_setup_data.fw_vendor"), LinuxAbi.ESD_FW_VENDOR);
        assertEquals(v("struct efi_setup_data.__unused"), LinuxAbi.ESD_RUNTIME);
        assertEquals(v("struct efi_setup_data.tables"), LinuxAbi.ESD_TABLES);
        assertEquals(v("struct efi_setup_data.smbios"), LinuxAbi.ESD_SMBIOS);
    }

    @Test
    void efiTablesMemoryDescriptorsAndTheTpmLogTablesMatchIncludeLinuxEfiH() {
        assertEquals(v("efi_system_table_64_t.hdr.signature"), LinuxAbi.SYSTAB_SIGNATURE);
        assertEquals(v("efi_system_table_64_t.nr_tables"), LinuxAbi.SYSTAB_NR_TABLES);
        assertEquals(v("efi_system_table_64_t.tables"), LinuxAbi.SYSTAB_TABLES);
        assertEquals(v("sizeof.efi_system_table_64_t"), LinuxAbi.SYSTAB_64_SIZE);
        assertEquals(v("EFI_SYSTEM_TABLE_SIGNATURE"), LinuxAbi.EFI_SYSTEM_TABLE_SIGNATURE);
        assertEquals(v("sizeof.efi_config_table_64_t"), LinuxAbi.CONFIG_TABLE_64_SIZE);
        assertEquals(v("efi_config_table_64_t.table"), LinuxAbi.CT_TABLE);
        assertEquals(v("sizeof.efi_memory_desc_t"), LinuxAbi.EFI_MEMORY_DESC_SIZE);
        assertEquals(v("efi_memory_desc_t.type"), LinuxAbi.MD_TYPE);
        assertEquals(v("efi_memory_desc_t.phys_addr"), LinuxAbi.MD_PHYS_ADDR);
        assertEquals(v("efi_memory_desc_t.virt_addr"), LinuxAbi.MD_VIRT_ADDR);
        assertEquals(v("efi_memory_desc_t.num_pages"), LinuxAbi.MD_NUM_PAGES);
        assertEquals(v("efi_memory_desc_t.attribute"), LinuxAbi.MD_ATTRIBUTE);
        assertEquals(v("EFI_MEMORY_DESCRIPTOR_VERSION"), LinuxAbi.EFI_MEMORY_DESCRIPTOR_VERSION);
        assertEquals(v("struct linux_efi_tpm_eventlog.size"), LinuxAbi.TPM_LOG_SIZE);
        assertEquals(v("struct linux_efi_tpm_eventlog.final_events_preboot_size"), LinuxAbi.TPM_LOG_FINAL_EVENTS_PREBOOT_SIZE);
        assertEquals(v("struct linux_efi_tpm_eventlog.version"), LinuxAbi.TPM_LOG_VERSION);
        assertEquals(v("struct linux_efi_tpm_eventlog.log"), LinuxAbi.TPM_LOG_LOG);
        assertEquals(v("EFI_TCG2_EVENT_LOG_FORMAT_TCG_2"), LinuxAbi.EFI_TCG2_EVENT_LOG_FORMAT_TCG_2);
        assertEquals(v("sizeof.struct efi_tcg2_final_events_table"), LinuxAbi.FINAL_EVENTS_TABLE_HEADER);
        assertEquals(8, v("struct efi_tcg2_final_events_table.nr_events"));
        assertEquals(guids.get("guid.tpm_log"), LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID.toString().toLowerCase());
        assertEquals(guids.get("guid.final_log"), LinuxAbi.LINUX_EFI_TPM_FINAL_LOG_GUID.toString().toLowerCase());
    }

    @Test
    void firmwareMemmapTypeNamesGiveTheKernelsE820Types() {
        assertEquals(v("E820_TYPE_RAM"), LinuxAbi.e820Type("System RAM"));
        assertEquals(v("E820_TYPE_RAM"), LinuxAbi.E820_TYPE_RAM);
        assertEquals(v("E820_TYPE_RESERVED"), LinuxAbi.e820Type("Reserved"));
        assertEquals(v("E820_TYPE_ACPI"), LinuxAbi.e820Type("ACPI Tables"));
        assertEquals(v("E820_TYPE_NVS"), LinuxAbi.e820Type("ACPI Non-volatile Storage"));
        assertEquals(v("E820_TYPE_UNUSABLE"), LinuxAbi.e820Type("Unusable memory"));
        assertEquals(v("E820_TYPE_PMEM"), LinuxAbi.e820Type("Persistent Memory"));
        assertEquals(v("E820_TYPE_PRAM"), LinuxAbi.e820Type("Persistent Memory (legacy)"));
        assertEquals(v("E820_TYPE_SOFT_RESERVED"), LinuxAbi.e820Type("Soft Reserved") & 0xffffffffL);
        assertEquals(v("E820_TYPE_RESERVED"), LinuxAbi.e820Type("something new"));
    }
}
