package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.disk.BlockDevice;
import org.kexecmeasured.uefi.spi.GuestMemory;

import java.nio.ByteBuffer;

/**
 * A read-only window of a {@link BlockDevice}: the whole disk or one partition ({@code firstLba} …
 * {@code firstLba + blocks - 1}). BlockIo and DiskIo of one handle share it; it copies disk bytes into guest
 * memory in bounded chunks, so a guest-chosen length never sizes a host buffer.
 */
final class DiskRegion {
    private static final int CHUNK = 1 << 20;

    final BlockDevice disk;
    final long firstLba;
    final long blocks;

    DiskRegion(BlockDevice disk, long firstLba, long blocks) {
        this.disk = disk;
        this.firstLba = firstLba;
        this.blocks = blocks;
    }

    long bytes() {
        return blocks * BlockDevice.BLOCK_SIZE;
    }

    /** Copies [offset, offset + len) of this region to guest {@code dst}; the caller checked the range. */
    void copyToGuest(GuestMemory m, long offset, long len, long dst) {
        if (!m.isGuestWritable(dst, len)) { // before the first chunk: a refused read changes nothing
            throw m.notWritable("disk read", dst, len);
        }
        ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(len, CHUNK));
        long base = firstLba * BlockDevice.BLOCK_SIZE + offset;
        for (long done = 0; done < len; ) {
            chunk.clear().limit((int) Math.min(chunk.capacity(), len - done));
            disk.readFully(base + done, chunk);
            m.write(dst + done, chunk.array(), 0, chunk.limit());
            done += chunk.limit();
        }
    }
}
