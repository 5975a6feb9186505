package org.kexecmeasured.uefi;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.uefi.protocol.BlockIoProtocol;
import org.kexecmeasured.uefi.protocol.DiskIoProtocol;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.util.Json;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * EFI_BLOCK_IO_PROTOCOL and EFI_DISK_IO_PROTOCOL on a partition handle, called through their guest function
 * pointers, against UEFI 2.10 §13.9 ReadBlocks/WriteBlocks and §13.7 ReadDisk/WriteDisk: the status each
 * parameter check returns, and the bytes a read returns. Oracles: sfdisk (it writes the GPT and reports where the
 * partition starts) and the bytes the test wrote at that offset of the image file.
 */
class BlockIoDiskIoTest {

    static final long PART_START = 2048;
    static final long PART_BLOCKS = 2048;
    static final long LAST = PART_BLOCKS - 1;

    @TempDir
    static Path dir;
    static byte[] content;
    static Platform platform;
    static Firmware fw;
    static GuestMemory m;
    static long blockIo;
    static long diskIo;
    static long buf;

    @BeforeAll
    static void disk() throws Exception {
        Path img = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(8L << 20);
        }
        RealParts.run(List.of("sh", "-c", "printf 'label: gpt\\nstart=" + PART_START + ", size=" + PART_BLOCKS
                + ", type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\\n' | sfdisk -q " + img), "fdisk");
        JsonNode pt = Json.MAPPER.readTree(RealParts.run(List.of("sfdisk", "--json", img.toString()), "fdisk"));
        long start = pt.path("partitiontable").path("partitions").get(0).path("start").asLong();
        content = new byte[(int) (PART_BLOCKS * 512)];
        new Random(13).nextBytes(content);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(start * 512);
            f.write(content);
        }
        platform = Platform.create(EmulatorOptions.builder().ramSize(64L << 20).disk(img).build());
        fw = platform.firmware();
        m = fw.mem();
        fw.machine().cpu().setReg(Cpu.Reg.RSP, fw.machine().stackTop() - 0x1000);
        // the partition's handle: BlockIo with Media.LogicalPartition set
        for (long h : fw.protocols().handlesWith(BlockIoProtocol.GUID)) {
            long bio = fw.protocols().get(h, BlockIoProtocol.GUID);
            if (m.u8(m.u64(bio + 8) + 6) == 1) {
                blockIo = bio;
                diskIo = fw.protocols().get(h, DiskIoProtocol.GUID);
            }
        }
        assertNotEquals(0, blockIo, "no partition handle with BlockIo");
        buf = fw.allocator().allocatePages(MemoryType.BootServicesData, 4);
    }

    @AfterAll
    static void close() {
        if (platform != null) platform.close();
    }

    private static long readBlocks(long mediaId, long lba, long size, long buffer) {
        return fw.images().hostCall(m.u64(blockIo + 24), blockIo, mediaId, lba, size, buffer);
    }

    private static long readDisk(long mediaId, long offset, long size, long buffer) {
        return fw.images().hostCall(m.u64(diskIo + 8), diskIo, mediaId, offset, size, buffer);
    }

    @Test
    void mediaDescribesAReadOnlyPartition() {
        long media = m.u64(blockIo + 8);
        long mediaId = m.u32(media);
        assertEquals(0x00020001L, m.u64(blockIo), "Revision 2");
        assertEquals(1, m.u8(media + 5), "MediaPresent");
        assertEquals(1, m.u8(media + 7), "ReadOnly");
        assertEquals(512, m.u32(media + 12), "BlockSize");
        assertEquals(LAST, m.u64(media + 24), "LastBlock");
        assertEquals(EfiStatus.SUCCESS, readBlocks(mediaId, 0, 512, buf));
    }

    @Test
    void readBlocksReturnsThePartitionsBytes() {
        long id = m.u32(m.u64(blockIo + 8));
        assertEquals(EfiStatus.SUCCESS, readBlocks(id, 3, 4096, buf));
        assertArrayEquals(Arrays.copyOfRange(content, 3 * 512, 3 * 512 + 4096), m.read(buf, 4096));
        assertEquals(EfiStatus.SUCCESS, readBlocks(id, LAST, 512, buf), "the last block");
        assertArrayEquals(Arrays.copyOfRange(content, content.length - 512, content.length), m.read(buf, 512));
    }

    @Test
    void readBlocksChecksItsParametersAsTheSpecSays() {
        long id = m.u32(m.u64(blockIo + 8));
        assertEquals(EfiStatus.MEDIA_CHANGED, readBlocks(id + 1, 0, 512, buf));
        assertEquals(EfiStatus.BAD_BUFFER_SIZE, readBlocks(id, 0, 100, buf));
        assertEquals(EfiStatus.INVALID_PARAMETER, readBlocks(id, 0, 512, 0), "no buffer");
        assertEquals(EfiStatus.INVALID_PARAMETER, readBlocks(id, LAST + 1, 512, buf), "LBA past the end");
        assertEquals(EfiStatus.INVALID_PARAMETER, readBlocks(id, LAST, 1024, buf), "a read running past the end");
        assertEquals(EfiStatus.INVALID_PARAMETER, readBlocks(id, -1L, 512, buf), "LBA 2^64-1 (no wrap-around)");
        assertEquals(EfiStatus.INVALID_PARAMETER, readBlocks(id, 1, -512L, buf), "a size that wraps");
        assertEquals(EfiStatus.SUCCESS, readBlocks(id, 0, 0, buf), "nothing to read");
    }

    @Test
    void writesAreRefusedOnTheReadOnlyMedium() {
        long id = m.u32(m.u64(blockIo + 8));
        assertEquals(EfiStatus.WRITE_PROTECTED,
                fw.images().hostCall(m.u64(blockIo + 32), blockIo, id, 0, 512, buf));
        assertEquals(EfiStatus.MEDIA_CHANGED,
                fw.images().hostCall(m.u64(blockIo + 32), blockIo, id + 1, 0, 512, buf));
        assertEquals(EfiStatus.WRITE_PROTECTED, fw.images().hostCall(m.u64(diskIo + 16), diskIo, id, 0, 4, buf));
    }

    @Test
    void readDiskIsByteGranularWithinThePartition() {
        long id = m.u32(m.u64(blockIo + 8));
        assertEquals(EfiStatus.SUCCESS, readDisk(id, 1001, 3000, buf));
        assertArrayEquals(Arrays.copyOfRange(content, 1001, 4001), m.read(buf, 3000));
        assertEquals(EfiStatus.SUCCESS, readDisk(id, content.length - 7, 7, buf), "up to the last byte");
        assertArrayEquals(Arrays.copyOfRange(content, content.length - 7, content.length), m.read(buf, 7));
    }

    @Test
    void readDiskChecksItsParametersAsTheSpecSays() {
        long id = m.u32(m.u64(blockIo + 8));
        assertEquals(EfiStatus.MEDIA_CHANGED, readDisk(id + 1, 0, 4, buf));
        assertEquals(EfiStatus.INVALID_PARAMETER, readDisk(id, content.length - 7, 8, buf), "one byte past the end");
        assertEquals(EfiStatus.INVALID_PARAMETER, readDisk(id, -1L, 2, buf), "offset 2^64-1 (no wrap-around)");
        assertEquals(EfiStatus.INVALID_PARAMETER, readDisk(id, 8, -4L, buf), "a size that wraps");
        assertEquals(EfiStatus.INVALID_PARAMETER, readDisk(id, 0, 4, 0), "no buffer");
        assertEquals(EfiStatus.SUCCESS, readDisk(id, 0, 0, 0), "nothing to read");
    }
}
