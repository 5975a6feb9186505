package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.efi.disk.BlockDevice;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/**
 * EFI_BLOCK_IO_PROTOCOL (UEFI 2.10 §13.9), revision 2, over a read-only disk region: media info, ReadBlocks
 * with the spec's checks in the spec's order, and no writes (the medium is ReadOnly; WriteBlocks answers
 * WRITE_PROTECTED). GRUB reads its file systems through this.
 */
public final class BlockIoProtocol {

    public static final Guid GUID = Guid.parse("964e5b21-6459-11d2-8e39-00a0c969723b");
    /** EFI_BLOCK_IO_PROTOCOL_REVISION2. */
    static final long REVISION2 = 0x00020001;
    static final int MEDIA_ID = 1;
    private static final String[] FNS = {"Reset", "ReadBlocks", "WriteBlocks", "FlushBlocks"};

    private final GuestMemory m;
    private final DiskRegion region;
    private final long address;

    /** Installs BlockIo for {@code region} on {@code handle}; {@code partition} sets Media.LogicalPartition. */
    BlockIoProtocol(ProtocolContext ctx, long handle, DiskRegion region, boolean partition) {
        this.m = ctx.mem();
        this.region = region;
        long media = ctx.allocator().firmwareAlloc(48);
        m.putU32(media, MEDIA_ID);
        m.write(media + 4, new byte[]{0, 1, (byte) (partition ? 1 : 0), 1, 0}); // removable, present, logical, RO, wc
        m.putU32(media + 12, BlockDevice.BLOCK_SIZE);
        m.putU32(media + 16, 0); // IoAlign: any
        m.putU64(media + 24, region.blocks - 1); // LastBlock
        m.putU64(media + 32, 0); // LowestAlignedLba
        m.putU32(media + 40, 1); // LogicalBlocksPerPhysicalBlock
        m.putU32(media + 44, 0); // OptimalTransferLengthGranularity
        Service[] fns = {c -> EfiStatus.SUCCESS, this::readBlocks, this::writeBlocks, c -> EfiStatus.SUCCESS};
        // Revision, Media, then the four functions
        address = ctx.allocator().firmwareAlloc(48);
        m.putU64(address, REVISION2);
        m.putU64(address + 8, media);
        for (int i = 0; i < FNS.length; i++) {
            m.putU64(address + 16 + 8L * i, ctx.slots().slot("BlockIo." + FNS[i], fns[i]));
        }
        ctx.handles().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }

    /** ReadBlocks(This, MediaId, Lba, BufferSize, Buffer). */
    private long readBlocks(Call c) {
        long mediaId = c.arg(1) & 0xffffffffL;
        long lba = c.arg(2);
        long size = c.arg(3);
        long buf = c.arg(4);
        if (mediaId != MEDIA_ID) {
            return EfiStatus.MEDIA_CHANGED;
        }
        if (buf == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (size == 0) {
            return EfiStatus.SUCCESS;
        }
        if (Long.remainderUnsigned(size, BlockDevice.BLOCK_SIZE) != 0) {
            return EfiStatus.BAD_BUFFER_SIZE;
        }
        long n = Long.divideUnsigned(size, BlockDevice.BLOCK_SIZE);
        if (Long.compareUnsigned(lba, region.blocks) >= 0 || Long.compareUnsigned(n, region.blocks - lba) > 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        region.copyToGuest(m, lba * BlockDevice.BLOCK_SIZE, size, buf);
        return EfiStatus.SUCCESS;
    }

    /** WriteBlocks: the medium is read-only (checks as ReadBlocks first, as EDK2 drivers do). */
    private long writeBlocks(Call c) {
        if ((c.arg(1) & 0xffffffffL) != MEDIA_ID) {
            return EfiStatus.MEDIA_CHANGED;
        }
        return EfiStatus.WRITE_PROTECTED;
    }
}
