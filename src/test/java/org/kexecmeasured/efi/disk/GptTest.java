package org.kexecmeasured.efi.disk;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.Le;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPT reader against sfdisk (util-linux), which wrote the disk and reads it back as JSON; and hostile
 * copies of that disk (truncated, bad CRCs, an entry past the end, overflowing counts) → a clear
 * {@link BadInputException}, never a host exception.
 */
class GptTest {

    @TempDir
    static Path dir;
    static Path disk;

    @BeforeAll
    static void build() {
        disk = RealParts.makeDisk(dir.resolve("disk"));
    }

    @Test
    void partitionsEqualSfdisksReading() throws IOException {
        JsonNode pt = Json.MAPPER.readTree(RealParts.run(List.of("sfdisk", "--json", disk.toString()), "fdisk"))
                .get("partitiontable");
        Gpt gpt;
        try (BlockDevice d = BlockDevice.open(disk)) {
            gpt = Gpt.read(d);
        }
        assertFalse(gpt.usedBackup());
        assertEquals(Guid.parse(pt.get("id").asText()), gpt.diskGuid());
        assertEquals(pt.get("firstlba").asLong(), gpt.firstUsable());
        assertEquals(pt.get("lastlba").asLong(), gpt.lastUsable());
        JsonNode ps = pt.get("partitions");
        assertEquals(ps.size(), gpt.partitions().size());
        for (int i = 0; i < ps.size(); i++) {
            JsonNode e = ps.get(i);
            Gpt.Partition p = gpt.partitions().get(i);
            assertEquals(i + 1, p.number());
            assertEquals(e.get("start").asLong(), p.firstLba());
            assertEquals(e.get("size").asLong(), p.blocks());
            assertEquals(Guid.parse(e.get("type").asText()), p.type());
            assertEquals(Guid.parse(e.get("uuid").asText()), p.unique());
            assertEquals(e.get("name").asText(), p.name());
        }
        assertTrue(gpt.partitions().get(0).isEsp());
    }

    @Test
    void aBadPrimaryHeaderFallsBackToTheBackupAsFirmwareDoes() throws IOException {
        Path bad = copy("primary-bad");
        poke(bad, 512 + 16, 0x5a); // HeaderCRC32 of the primary
        try (BlockDevice d = BlockDevice.open(bad)) {
            Gpt gpt = Gpt.read(d);
            assertTrue(gpt.usedBackup());
            assertEquals(2, gpt.partitions().size());
        }
    }

    @Test
    void badCrcsInBothHeadersAreAClearError() throws IOException {
        Path bad = copy("both-bad");
        poke(bad, 512 + 16, 0x5a);
        poke(bad, Files.size(bad) - 512 + 16, 0x5a);
        BadInputException e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("HeaderCRC32"), e.getMessage());
        assertTrue(e.getMessage().contains("primary") && e.getMessage().contains("backup"), e.getMessage());
    }

    @Test
    void aBadEntryArrayCrcIsAClearError() throws IOException {
        Path bad = copy("array-bad");
        poke(bad, 2 * 512 + 40, 0x01); // StartingLBA of entry 1 (primary array); the backup array too
        poke(bad, Files.size(bad) - 33 * 512 + 40, 0x01);
        BadInputException e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("PartitionEntryArrayCRC32"), e.getMessage());
    }

    @Test
    void aTruncatedDiskIsAClearError() throws IOException {
        Path bad = copy("truncated");
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.setLength(20 * 1024 * 1024); // inside the ESP: LastUsableLBA and the backup are gone
        }
        BadInputException e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.setLength(1000);
        }
        e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("too small"), e.getMessage());
    }

    @Test
    void aPartitionPastTheEndIsAClearError() throws IOException {
        Path bad = copy("past-end");
        // entry 2's EndingLBA far beyond the disk, with both arrays' and headers' CRCs made right again, so only
        // the bounds check can refuse it
        long size = Files.size(bad);
        for (long hdr : new long[]{512, size - 512}) {
            long entries = Le.u64(readAt(bad, hdr, 512), 72) * 512;
            writeU64(bad, entries + 128 + 40, 1L << 40);
            fixCrcs(bad, hdr);
        }
        BadInputException e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("partition 2") && e.getMessage().contains("past the end"), e.getMessage());
    }

    @Test
    void overflowingEntryCountsAreAClearError() throws IOException {
        Path bad = copy("huge-count");
        long size = Files.size(bad);
        for (long hdr : new long[]{512, size - 512}) {
            writeU32(bad, hdr + 80, 0xffffffffL); // NumberOfPartitionEntries
            fixHeaderCrc(bad, hdr);
        }
        BadInputException e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("NumberOfPartitionEntries 4294967295"), e.getMessage());
        for (long hdr : new long[]{512, size - 512}) {
            writeU32(bad, hdr + 80, 128);
            writeU32(bad, hdr + 84, 0x80000000L); // SizeOfPartitionEntry
            fixHeaderCrc(bad, hdr);
        }
        e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("SizeOfPartitionEntry"), e.getMessage());
    }

    @Test
    void aDiskWithoutProtectiveMbrIsNotGpt() throws IOException {
        Path bad = copy("no-mbr");
        poke(bad, 510, 0);
        BadInputException e = assertThrows(BadInputException.class, () -> read(bad));
        assertTrue(e.getMessage().contains("0x55AA"), e.getMessage());
    }

    // ------------------------------------------------------------------ helpers

    private static Gpt read(Path p) {
        try (BlockDevice d = BlockDevice.open(p)) {
            return Gpt.read(d);
        }
    }

    private static Path copy(String name) throws IOException {
        Path p = dir.resolve(name + ".img");
        Files.copy(disk, p, StandardCopyOption.REPLACE_EXISTING);
        return p;
    }

    private static byte[] readAt(Path p, long off, int len) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "r")) {
            byte[] b = new byte[len];
            f.seek(off);
            f.readFully(b);
            return b;
        }
    }

    private static void writeAt(Path p, long off, byte[] b) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(off);
            f.write(b);
        }
    }

    private static void poke(Path p, long off, int xor) throws IOException {
        byte[] b = readAt(p, off, 1);
        b[0] ^= (byte) (xor == 0 ? 0xff : xor);
        writeAt(p, off, b);
    }

    private static void writeU32(Path p, long off, long v) throws IOException {
        byte[] b = new byte[4];
        Le.putInt(b, 0, (int) v);
        writeAt(p, off, b);
    }

    private static void writeU64(Path p, long off, long v) throws IOException {
        writeU32(p, off, v);
        writeU32(p, off + 4, v >>> 32);
    }

    private static long crc(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }

    /** Recomputes the entry array's CRC (in the header) and then the header's own CRC. */
    private static void fixCrcs(Path p, long hdr) throws IOException {
        byte[] h = readAt(p, hdr, 92);
        long entries = Le.u64(h, 72) * 512;
        int bytes = (int) (Le.u32(h, 80) * Le.u32(h, 84));
        writeU32(p, hdr + 88, crc(readAt(p, entries, bytes)));
        fixHeaderCrc(p, hdr);
    }

    private static void fixHeaderCrc(Path p, long hdr) throws IOException {
        byte[] h = readAt(p, hdr, 92);
        java.util.Arrays.fill(h, 16, 20, (byte) 0);
        writeU32(p, hdr + 16, crc(h));
    }
}
