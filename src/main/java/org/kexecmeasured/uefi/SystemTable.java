package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.ConfigurationTables;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * EFI_SYSTEM_TABLE (UEFI 2.10 §4.3) and its configuration table array. Every change rewrites the header
 * CRC, as the spec requires of InstallConfigurationTable.
 */
public final class SystemTable implements ConfigurationTables {

    /** EFI_SYSTEM_TABLE_SIGNATURE "IBI SYST". */
    public static final long SIGNATURE = 0x5453595320494249L;
    public static final int SIZE = 120;
    public static final int MAX_CONFIG_TABLES = 64;
    static final int OFF_FIRMWARE_VENDOR = 24;
    static final int OFF_FIRMWARE_REVISION = 32;
    static final int OFF_CONSOLE_IN_HANDLE = 40;
    static final int OFF_CON_IN = 48;
    static final int OFF_CONSOLE_OUT_HANDLE = 56;
    static final int OFF_CON_OUT = 64;
    static final int OFF_STANDARD_ERROR_HANDLE = 72;
    static final int OFF_STD_ERR = 80;
    static final int OFF_RUNTIME_SERVICES = 88;
    static final int OFF_BOOT_SERVICES = 96;
    static final int OFF_NUMBER_OF_TABLE_ENTRIES = 104;
    static final int OFF_CONFIGURATION_TABLE = 112;
    /** sizeof(EFI_CONFIGURATION_TABLE): VendorGuid, VendorTable. */
    private static final int ENTRY_SIZE = 24;

    private final GuestMemory mem;
    private final long address;
    private final long array;
    private final LinkedHashMap<Guid, Long> tables = new LinkedHashMap<>();

    SystemTable(Machine machine) {
        this.mem = machine.mem();
        this.array = machine.fwAlloc((long) ENTRY_SIZE * MAX_CONFIG_TABLES);
        this.address = machine.fwAlloc(SIZE);
        mem.putU64(address + OFF_FIRMWARE_VENDOR, machine.fwCopy(GuestMemory.utf16zBytes("kexec-measured")));
        mem.putU32(address + OFF_FIRMWARE_REVISION, 0x00010000);
        update();
    }

    /** Sets the EFI_BOOT_SERVICES and EFI_RUNTIME_SERVICES pointers. */
    void setServiceTables(long bootServices, long runtimeServices) {
        mem.putU64(address + OFF_BOOT_SERVICES, bootServices);
        mem.putU64(address + OFF_RUNTIME_SERVICES, runtimeServices);
        update();
    }

    /** The guest address of EFI_SYSTEM_TABLE (what every image entry point receives). */
    public long address() {
        return address;
    }

    /** Sets ConIn, ConOut and StdErr (StdErr = ConOut) with their common handle. */
    void setConsole(long handle, long conIn, long conOut) {
        mem.putU64(address + OFF_CONSOLE_IN_HANDLE, handle);
        mem.putU64(address + OFF_CON_IN, conIn);
        mem.putU64(address + OFF_CONSOLE_OUT_HANDLE, handle);
        mem.putU64(address + OFF_CON_OUT, conOut);
        mem.putU64(address + OFF_STANDARD_ERROR_HANDLE, handle);
        mem.putU64(address + OFF_STD_ERR, conOut);
        update();
    }

    /** The configuration tables by vendor GUID, in installation order. */
    public Map<Guid, Long> configurationTables() {
        return new LinkedHashMap<>(tables);
    }

    @Override
    public void install(Guid guid, long table) {
        if (installOrRemove(guid, table) != EfiStatus.SUCCESS) {
            throw new EmulationException("no room for configuration table " + guid);
        }
    }

    /** InstallConfigurationTable semantics: 0 removes; a new GUID past {@link #MAX_CONFIG_TABLES} is refused. */
    long installOrRemove(Guid guid, long table) {
        if (table == 0) {
            if (tables.remove(guid) == null) {
                return EfiStatus.NOT_FOUND;
            }
        } else {
            if (!tables.containsKey(guid) && tables.size() >= MAX_CONFIG_TABLES) {
                return EfiStatus.OUT_OF_RESOURCES;
            }
            tables.put(guid, table);
        }
        update();
        return EfiStatus.SUCCESS;
    }

    private void update() {
        int i = 0;
        for (Map.Entry<Guid, Long> e : tables.entrySet()) {
            mem.putGuid(array + (long) ENTRY_SIZE * i, e.getKey());
            mem.putU64(array + (long) ENTRY_SIZE * i + 16, e.getValue());
            i++;
        }
        mem.putU64(address + OFF_NUMBER_OF_TABLE_ENTRIES, tables.size());
        mem.putU64(address + OFF_CONFIGURATION_TABLE, array);
        ServiceTable.writeHeader(mem, address, SIGNATURE, SIZE);
    }
}
