package org.kexecmeasured.uefi.spi;

import org.kexecmeasured.efi.Guid;

/** The system table's configuration tables. */
@FunctionalInterface
public interface ConfigurationTables {
    /** InstallConfigurationTable on the firmware's own behalf (tables real firmware installs itself). */
    void install(Guid guid, long address);
}
