package org.kexecmeasured.uefi.spi;

import org.kexecmeasured.efi.Guid;

import java.util.List;

/** The handles and the protocol interfaces installed on them (UEFI 2.10 §7.3), as the firmware sees them. */
public interface HandleDatabase {

    /** EFI_DEVICE_PATH_PROTOCOL_GUID. */
    Guid DEVICE_PATH = Guid.parse("09576e91-6d3f-11d2-8e39-00a0c969723b");

    /**
     * Installs {@code iface} for {@code protocol} on {@code handle}, a new handle when 0.
     *
     * @return the handle
     */
    long install(long handle, Guid protocol, long iface);

    /** The interface of {@code protocol} on {@code handle}, or null. */
    Long get(long handle, Guid protocol);

    /** The handles carrying {@code protocol} (all handles for null), in creation order. */
    List<Long> handlesWith(Guid protocol);
}
