package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.HandleDatabase;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/**
 * EFI_LOAD_FILE2_PROTOCOL serving a host buffer on a handle whose device path is
 * VenMedia(LINUX_EFI_INITRD_MEDIA): the Linux initrd protocol (used for --initrd with a bare kernel).
 */
public final class LoadFile2Protocol {

    public static final Guid GUID = Guid.parse("4006c0c1-fcb3-403e-996d-4a6c8724e06d");
    public static final Guid LINUX_EFI_INITRD_MEDIA = Guid.parse("5568e427-68fc-4f3d-ac74-ca555231cc68");

    private final long address;
    private final long handle;
    private final byte[] data;

    /** Builds the protocol serving {@code data} and installs it on a new handle with the initrd device path. */
    public LoadFile2Protocol(ProtocolContext ctx, byte[] data) {
        this.data = data.clone();
        GuestMemory m = ctx.mem();
        Service load = c -> { // LoadFile(This, FilePath, BootPolicy, *BufferSize, Buffer)
            if (c.arg(1) == 0 || c.arg(3) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            if (c.arg(2) != 0) {
                return EfiStatus.UNSUPPORTED;
            }
            long have = m.u64(c.arg(3));
            m.putU64(c.arg(3), this.data.length);
            if (c.arg(4) == 0 || have < this.data.length) {
                return EfiStatus.BUFFER_TOO_SMALL;
            }
            m.write(c.arg(4), this.data);
            return EfiStatus.SUCCESS;
        };
        address = ProtocolTable.build(ctx, "InitrdLoadFile2", new String[]{"LoadFile"}, new Service[]{load}, 8);
        long dp = ctx.allocator().firmwareCopy(
                DevicePath.of(java.util.List.of(DevicePath.vendorMedia(LINUX_EFI_INITRD_MEDIA))).toBytes());
        handle = ctx.handles().install(0, HandleDatabase.DEVICE_PATH, dp);
        ctx.handles().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }

    public long handle() {
        return handle;
    }

    public byte[] data() {
        return data.clone();
    }
}
