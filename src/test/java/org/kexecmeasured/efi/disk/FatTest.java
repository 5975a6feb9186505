package org.kexecmeasured.efi.disk;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Le;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The FAT reader against mtools (mcopy), which reads the same ESP out of the same disk image; and hostile
 * copies (a looping cluster chain, a file longer than its chain, a BPB larger than the partition).
 */
class FatTest {

    @TempDir
    static Path dir;
    static Path disk;
    static Gpt.Partition esp;

    @BeforeAll
    static void build() {
        disk = RealParts.makeDisk(dir.resolve("disk"));
        try (BlockDevice d = BlockDevice.open(disk)) {
            esp = Gpt.read(d).partitions().get(0);
        }
    }

    private static Path extract(Path image, String name) throws IOException {
        Path out = Files.createDirectory(dir.resolve(name));
        try (BlockDevice d = BlockDevice.open(image)) {
            new Fat(d, esp.firstLba(), esp.blocks(), "test").extractTo(out);
        }
        return out;
    }

    private static Map<String, byte[]> tree(Path root) throws IOException {
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                m.put(root.relativize(p).toString() + (Files.isDirectory(p) ? "/" : ""),
                        Files.isDirectory(p) ? new byte[0] : Files.readAllBytes(p));
            }
        }
        return m;
    }

    @Test
    void extractsTheSameTreeAsMtools() throws IOException {
        Path ours = extract(disk, "ours");
        Path theirs = Files.createDirectory(dir.resolve("mtools"));
        RealParts.run(List.of("mcopy", "-s", "-n", "-i", disk + "@@" + esp.firstLba() * 512, "::EFI",
                theirs.toString()), "mtools");
        Map<String, byte[]> a = tree(ours);
        Map<String, byte[]> b = tree(theirs);
        assertEquals(b.keySet(), a.keySet());
        for (String k : b.keySet()) {
            assertArrayEquals(b.get(k), a.get(k), k);
        }
        assertTrue(a.containsKey("EFI/debian/shimx64.efi"), a.keySet().toString());
    }

    /** The first data cluster of the file {@code name} in \EFI\debian and the FAT's byte offset in the image. */
    private static long[] fileClusterAndFat(Path image, String name) {
        try (BlockDevice d = BlockDevice.open(image)) {
            Fat f = new Fat(d, esp.firstLba(), esp.blocks(), "test");
            Fat.Entry efi = f.root().stream().filter(e -> e.name().equals("EFI")).findFirst().orElseThrow();
            Fat.Entry debian = f.list(efi, "EFI").stream().filter(e -> e.name().equals("debian")).findFirst().orElseThrow();
            Fat.Entry file = f.list(debian, "debian").stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow();
            byte[] bs = d.read(esp.firstLba() * 512, 512);
            long fatOff = esp.firstLba() * 512 + (long) Le.u16(bs, 14) * Le.u16(bs, 11);
            return new long[]{file.firstCluster(), fatOff, f.bits()};
        }
    }

    @Test
    void aLoopingClusterChainIsAClearError() throws IOException {
        Path bad = dir.resolve("loop.img");
        Files.copy(disk, bad, StandardCopyOption.REPLACE_EXISTING);
        long[] cf = fileClusterAndFat(bad, "grub.cfg");
        assertEquals(16, cf[2], "make-disk's 40 MiB ESP is FAT16");
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.seek(cf[1] + cf[0] * 2);
            f.write(new byte[]{(byte) cf[0], (byte) (cf[0] >> 8)}); // the cluster points at itself
        }
        // a 116-byte grub.cfg fits one cluster: the loop shows when the chain is followed
        BadInputException e = assertThrows(BadInputException.class, () -> extract(bad, "loop"));
        assertTrue(e.getMessage().contains("loops at cluster " + cf[0]), e.getMessage());
    }

    @Test
    void aFileLongerThanItsChainIsAClearError() throws IOException {
        Path bad = dir.resolve("long.img");
        Files.copy(disk, bad, StandardCopyOption.REPLACE_EXISTING);
        long[] cf = fileClusterAndFat(bad, "grub.cfg");
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.seek(cf[1] + cf[0] * 2);
            f.write(new byte[]{(byte) 0xff, (byte) 0xff}); // ends after one cluster: make the size huge instead
        }
        // DIR_FileSize of grub.cfg → 0x7fffffff: find its directory entry by its short name
        byte[] img = Files.readAllBytes(bad);
        byte[] sn = "GRUB    CFG".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        int at = -1;
        for (int i = (int) (esp.firstLba() * 512); i < img.length - 32 && at < 0; i += 32) {
            if (java.util.Arrays.equals(img, i, i + 11, sn, 0, 11)) {
                at = i;
            }
        }
        assertTrue(at > 0, "grub.cfg's directory entry");
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.seek(at + 28);
            f.write(new byte[]{(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f});
        }
        BadInputException e = assertThrows(BadInputException.class, () -> extract(bad, "long"));
        assertTrue(e.getMessage().contains("DIR_FileSize 2147483647"), e.getMessage());
    }

    @Test
    void aBpbLargerThanThePartitionIsAClearError() throws IOException {
        Path bad = dir.resolve("bpb.img");
        Files.copy(disk, bad, StandardCopyOption.REPLACE_EXISTING);
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            f.seek(esp.firstLba() * 512 + 19);
            f.write(new byte[]{0, 0}); // BPB_TotSec16 = 0 → BPB_TotSec32
            f.seek(esp.firstLba() * 512 + 32);
            f.write(new byte[]{(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
        }
        BadInputException e = assertThrows(BadInputException.class, () -> extract(bad, "bpb"));
        assertTrue(e.getMessage().contains("exceeds the partition"), e.getMessage());
    }
}
