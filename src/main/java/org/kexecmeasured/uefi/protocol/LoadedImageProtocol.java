package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.Allocator;
import org.kexecmeasured.uefi.spi.GuestMemory;

/**
 * EFI_LOADED_IMAGE_PROTOCOL (data only, no functions): Revision, ParentHandle, SystemTable, DeviceHandle,
 * FilePath, LoadOptions(Size), ImageBase, ImageSize, Image{Code,Data}Type, Unload.
 */
public final class LoadedImageProtocol {

    public static final Guid GUID = Guid.parse("5b1b31a1-9562-11d2-8e3f-00a0c969723b");
    public static final Guid DEVICE_PATH_GUID = Guid.parse("bc62157e-3e33-4fec-9920-2d3b36d750df");
    public static final int SIZE = 96;
    public static final int OFF_DEVICE_HANDLE = 24;
    public static final int OFF_FILE_PATH = 32;
    public static final int OFF_LOAD_OPTIONS_SIZE = 48;
    public static final int OFF_LOAD_OPTIONS = 56;
    public static final int OFF_IMAGE_BASE = 64;
    public static final int OFF_IMAGE_SIZE = 72;

    private LoadedImageProtocol() {
    }

    /** Writes the structure into firmware memory and returns its address. */
    public static long create(GuestMemory m, Allocator allocator, long systemTable, long parent, long deviceHandle,
                              long filePath, long base, long size, int codeType, int dataType) {
        long a = allocator.firmwareAlloc(SIZE);
        m.putU32(a, 0x1000);
        m.putU64(a + 8, parent);
        m.putU64(a + 16, systemTable);
        m.putU64(a + OFF_DEVICE_HANDLE, deviceHandle);
        m.putU64(a + OFF_FILE_PATH, filePath);
        m.putU64(a + OFF_IMAGE_BASE, base);
        m.putU64(a + OFF_IMAGE_SIZE, size);
        m.putU32(a + 80, codeType);
        m.putU32(a + 84, dataType);
        return a;
    }
}
