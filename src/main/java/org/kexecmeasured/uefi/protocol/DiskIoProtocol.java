package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/**
 * EFI_DISK_IO_PROTOCOL (UEFI 2.10 §13.7): byte-granular reads of the same region as the handle's BlockIo
 * (EDK2's DiskIoDxe installs it on every BlockIo handle); WriteDisk answers WRITE_PROTECTED.
 */
public final class DiskIoProtocol {

    public static final Guid GUID = Guid.parse("ce345171-ba0b-11d2-8e4f-00a0c969723b");
    static final long REVISION = 0x00010000;

    private final GuestMemory m;
    private final DiskRegion region;

    DiskIoProtocol(ProtocolContext ctx, long handle, DiskRegion region) {
        this.m = ctx.mem();
        this.region = region;
        long a = ctx.allocator().firmwareAlloc(24);
        m.putU64(a, REVISION);
        m.putU64(a + 8, ctx.slots().slot("DiskIo.ReadDisk", this::readDisk));
        m.putU64(a + 16, ctx.slots().slot("DiskIo.WriteDisk", this::writeDisk));
        ctx.handles().install(handle, GUID, a);
    }

    /** ReadDisk(This, MediaId, Offset, BufferSize, Buffer). */
    private long readDisk(Call c) {
        long offset = c.arg(2);
        long size = c.arg(3);
        long buf = c.arg(4);
        if ((c.arg(1) & 0xffffffffL) != BlockIoProtocol.MEDIA_ID) {
            return EfiStatus.MEDIA_CHANGED;
        }
        if (size == 0) {
            return EfiStatus.SUCCESS;
        }
        if (buf == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long total = region.bytes();
        if (Long.compareUnsigned(offset, total) >= 0 || Long.compareUnsigned(size, total - offset) > 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        region.copyToGuest(m, offset, size, buf);
        return EfiStatus.SUCCESS;
    }

    private long writeDisk(Call c) {
        if ((c.arg(1) & 0xffffffffL) != BlockIoProtocol.MEDIA_ID) {
            return EfiStatus.MEDIA_CHANGED;
        }
        return EfiStatus.WRITE_PROTECTED;
    }
}
