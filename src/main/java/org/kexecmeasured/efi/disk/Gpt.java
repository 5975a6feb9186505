package org.kexecmeasured.efi.disk;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Le;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;

/**
 * A GUID partition table (UEFI 2.10 §5.3), read as EDK2's PartitionDxe accepts one: a protective MBR
 * (0x55AA, a type-0xEE entry), then the primary header at LBA 1; if it is invalid, the backup header at the
 * disk's last LBA. A header is valid when its signature, revision, size, CRC32, MyLBA, usable range, entry
 * size and count and the entry array's CRC32 all check out. Both invalid is an error naming both reasons.
 *
 * @param diskGuid    the header's DiskGUID
 * @param firstUsable FirstUsableLBA
 * @param lastUsable  LastUsableLBA
 * @param partitions  the used entries (non-zero type GUID), in entry order
 * @param usedBackup  true when the primary header was invalid and the backup was used
 */
public record Gpt(Guid diskGuid, long firstUsable, long lastUsable, List<Partition> partitions, boolean usedBackup) {

    /** EFI_PART_TYPE_EFI_SYSTEM_PART_GUID. */
    public static final Guid ESP_TYPE = Guid.parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    /** The most entries accepted (the spec's minimum array is 128 entries; tools write 128). */
    public static final int MAX_ENTRIES = 1024;
    /** The largest entry array accepted, in bytes. */
    public static final int MAX_ARRAY_BYTES = 1 << 20;
    private static final byte[] SIGNATURE = "EFI PART".getBytes(StandardCharsets.US_ASCII);
    

    /**
     * One partition entry.
     *
     * @param number    the 1-based entry index (the HD() node's PartitionNumber)
     * @param firstLba  StartingLBA
     * @param lastLba   EndingLBA (inclusive)
     */
    public record Partition(int number, Guid type, Guid unique, long firstLba, long lastLba, long attributes,
                            String name) {
        public long blocks() {
            return lastLba - firstLba + 1;
        }

        public boolean isEsp() {
            return type.equals(ESP_TYPE);
        }
    }

    /** Reads the GPT of {@code disk}; anything malformed is a {@link BadInputException} naming field and LBA. */
    public static Gpt read(BlockDevice disk) {
        String where = "disk " + disk.path();
        long blocks = disk.blocks();
        if (blocks < 3) {
            throw new BadInputException(where + ": " + disk.size() + " bytes is too small for a GPT (truncated?)");
        }
        checkProtectiveMbr(disk.read(0, BlockDevice.BLOCK_SIZE), where);
        Gpt primary;
        try {
            primary = header(disk, 1, blocks, false);
        } catch (BadInputException primaryError) {
            try {
                return header(disk, blocks - 1, blocks, true);
            } catch (BadInputException backupError) {
                throw new BadInputException(where + ": no valid GPT: primary " + primaryError.getMessage()
                        + "; backup " + backupError.getMessage());
            }
        }
        return primary;
    }

    private static void checkProtectiveMbr(byte[] mbr, String where) {
        if ((mbr[510] & 0xff) != 0x55 || (mbr[511] & 0xff) != 0xaa) {
            throw new BadInputException(where + ": LBA 0 has no MBR signature 0x55AA: not a GPT disk");
        }
        for (int i = 0; i < 4; i++) {
            if ((mbr[446 + 16 * i + 4] & 0xff) == 0xee) {
                return;
            }
        }
        throw new BadInputException(where + ": the MBR has no protective (type 0xEE) entry: not a GPT disk");
    }

    private static Gpt header(BlockDevice disk, long lba, long blocks, boolean backup) {
        String at = "header at LBA " + lba;
        byte[] h = disk.read(lba * BlockDevice.BLOCK_SIZE, BlockDevice.BLOCK_SIZE);
        if (!Le.startsWith(h, 0, SIGNATURE)) {
            throw new BadInputException(at + ": no signature \"EFI PART\"");
        }
        long revision = Le.u32(h, 8);
        if (revision >>> 16 != 1) {
            throw new BadInputException(at + ": revision 0x" + Long.toHexString(revision) + " is not 1.x");
        }
        long headerSize = Le.u32(h, 12);
        if (headerSize < 92 || headerSize > BlockDevice.BLOCK_SIZE) {
            throw new BadInputException(at + ": HeaderSize " + headerSize + " is outside 92.."
                    + BlockDevice.BLOCK_SIZE);
        }
        long crc = Le.u32(h, 16);
        byte[] copy = Arrays.copyOf(h, (int) headerSize);
        Arrays.fill(copy, 16, 20, (byte) 0);
        if (crc32(copy, 0, copy.length) != crc) {
            throw new BadInputException(at + ": HeaderCRC32 0x" + Long.toHexString(crc) + " does not match");
        }
        long myLba = Le.u64(h, 24);
        if (myLba != lba) {
            throw new BadInputException(at + ": MyLBA " + Long.toUnsignedString(myLba) + " is not " + lba);
        }
        long firstUsable = Le.u64(h, 40);
        long lastUsable = Le.u64(h, 48);
        if (Long.compareUnsigned(firstUsable, 2) < 0 || Long.compareUnsigned(lastUsable, blocks - 2) > 0
                || Long.compareUnsigned(firstUsable, lastUsable) > 0) {
            throw new BadInputException(at + ": usable LBAs " + Long.toUnsignedString(firstUsable) + ".."
                    + Long.toUnsignedString(lastUsable) + " do not fit a disk of " + blocks + " blocks (truncated?)");
        }
        Guid diskGuid = Guid.read(h, 56);
        long entryLba = Le.u64(h, 72);
        long count = Le.u32(h, 80);
        long entrySize = Le.u32(h, 84);
        long arrayCrc = Le.u32(h, 88);
        if (entrySize < 128 || Long.bitCount(entrySize) != 1 || entrySize > BlockDevice.BLOCK_SIZE) {
            throw new BadInputException(at + ": SizeOfPartitionEntry " + entrySize
                    + " is not 128 x 2^n up to the block size");
        }
        if (count > MAX_ENTRIES || count * entrySize > MAX_ARRAY_BYTES) {
            throw new BadInputException(at + ": NumberOfPartitionEntries " + count + " x " + entrySize
                    + " bytes exceeds the limit of " + MAX_ENTRIES + " entries");
        }
        int arrayBytes = (int) (count * entrySize);
        long arrayBlocks = (arrayBytes + BlockDevice.BLOCK_SIZE - 1) / BlockDevice.BLOCK_SIZE;
        if (Long.compareUnsigned(entryLba, 2) < 0 && !backup || Long.compareUnsigned(entryLba, blocks) >= 0
                || entryLba + arrayBlocks > blocks || entryLba == 0) {
            throw new BadInputException(at + ": PartitionEntryLBA " + Long.toUnsignedString(entryLba) + " with "
                    + arrayBlocks + " blocks of entries lies outside the disk's " + blocks + " blocks (truncated?)");
        }
        byte[] array = disk.read(entryLba * BlockDevice.BLOCK_SIZE, arrayBytes);
        if (crc32(array, 0, array.length) != arrayCrc) {
            throw new BadInputException(at + ": PartitionEntryArrayCRC32 0x" + Long.toHexString(arrayCrc)
                    + " does not match the " + count + " entries at LBA " + entryLba);
        }
        List<Partition> parts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int o = (int) (i * entrySize);
            Guid type = Guid.read(array, o);
            if (type.equals(Guid.ZERO)) {
                continue;
            }
            long first = Le.u64(array, o + 32);
            long last = Le.u64(array, o + 40);
            if (Long.compareUnsigned(first, firstUsable) < 0 || Long.compareUnsigned(last, lastUsable) > 0
                    || Long.compareUnsigned(first, last) > 0) {
                throw new BadInputException(at + ": partition " + (i + 1) + " (LBA " + Long.toUnsignedString(first)
                        + ".." + Long.toUnsignedString(last) + ") lies outside the usable LBAs " + firstUsable + ".."
                        + lastUsable + " (past the end of the disk?)");
            }
            for (Partition p : parts) {
                if (first <= p.lastLba() && p.firstLba() <= last) {
                    throw new BadInputException(at + ": partition " + (i + 1) + " overlaps partition " + p.number());
                }
            }
            String name = new String(array, o + 56, 72, StandardCharsets.UTF_16LE);
            int nul = name.indexOf('\0');
            parts.add(new Partition(i + 1, type, Guid.read(array, o + 16), first, last, Le.u64(array, o + 48),
                    nul < 0 ? name : name.substring(0, nul)));
        }
        return new Gpt(diskGuid, firstUsable, lastUsable, List.copyOf(parts), backup);
    }

    private static long crc32(byte[] b, int off, int len) {
        CRC32 c = new CRC32();
        c.update(b, off, len);
        return c.getValue();
    }
}
