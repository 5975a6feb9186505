package org.kexecmeasured.efi.disk;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Le;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A read-only FAT12/16/32 file system in a disk region (Microsoft's FAT specification, "FAT32 File System
 * Specification" 1.03): the BPB, the first FAT, directories with long (VFAT) names. Every field is checked
 * against the region before it is used: cluster numbers inside the data area, chains without loops, the file
 * data read in all at most the region's size (cross-linked chains cannot multiply it), bounded depth and
 * entry counts.
 *
 * <p>Used to serve a disk's EFI system partition through SimpleFileSystem: {@link #extractTo(Path)} copies
 * the tree into a private host directory, which the emulator's SimpleFileSystem then serves.
 */
public final class Fat {

    /** The most directory entries (files and directories) accepted in the whole tree. */
    public static final int MAX_ENTRIES = 65536;
    /** The deepest directory nesting accepted. */
    public static final int MAX_DEPTH = 32;
    /** The largest FAT (one copy) read into memory. */
    public static final long MAX_FAT_BYTES = 64L << 20;

    private final BlockDevice disk;
    private final long base;
    private final long regionBytes;
    private final String where;
    private final int bytesPerSector;
    private final int clusterBytes;
    private final int bits;
    private final long clusters;
    private final long rootDirOffset;
    private final int rootEntries;
    private final long rootCluster;
    private final long dataOffset;
    private final byte[] fat;
    private long budget;
    private int entries;

    /** One entry of a directory. */
    public record Entry(String name, boolean directory, long firstCluster, long size) {
    }

    /** Reads the BPB and the first FAT of the FAT file system in [firstLba, firstLba + blocks) of {@code disk}. */
    public Fat(BlockDevice disk, long firstLba, long blocks, String where) {
        this.disk = disk;
        this.base = firstLba * BlockDevice.BLOCK_SIZE;
        this.regionBytes = blocks * BlockDevice.BLOCK_SIZE;
        this.where = where;
        if (regionBytes < BlockDevice.BLOCK_SIZE) {
            throw bad("too small for a FAT boot sector");
        }
        byte[] bs = disk.read(base, BlockDevice.BLOCK_SIZE);
        if ((bs[510] & 0xff) != 0x55 || (bs[511] & 0xff) != 0xaa) {
            throw bad("boot sector has no signature 0x55AA: not a FAT file system");
        }
        bytesPerSector = Le.u16(bs, 11);
        int secPerClus = Le.u8(bs, 13);
        int reserved = Le.u16(bs, 14);
        int numFats = Le.u8(bs, 16);
        rootEntries = Le.u16(bs, 17);
        long totSec = Le.u16(bs, 19) != 0 ? Le.u16(bs, 19) : Le.u32(bs, 32);
        long fatSz = Le.u16(bs, 22) != 0 ? Le.u16(bs, 22) : Le.u32(bs, 36);
        if (bytesPerSector != 512 && bytesPerSector != 1024 && bytesPerSector != 2048 && bytesPerSector != 4096) {
            throw bad("BPB_BytsPerSec " + bytesPerSector + " is not 512, 1024, 2048 or 4096");
        }
        if (secPerClus == 0 || Integer.bitCount(secPerClus) != 1 || (long) secPerClus * bytesPerSector > 1 << 16) {
            throw bad("BPB_SecPerClus " + secPerClus + " is not a power of two up to 64 KiB clusters");
        }
        if (reserved == 0 || numFats == 0 || fatSz == 0) {
            throw bad("BPB_RsvdSecCnt " + reserved + ", BPB_NumFATs " + numFats + ", FATSz " + fatSz
                    + ": none may be 0");
        }
        if (totSec * bytesPerSector > regionBytes) {
            throw bad("BPB_TotSec " + totSec + " x " + bytesPerSector + " bytes exceeds the partition's "
                    + regionBytes + " bytes");
        }
        long rootDirSectors = ((long) rootEntries * 32 + bytesPerSector - 1) / bytesPerSector;
        long firstData = reserved + numFats * fatSz + rootDirSectors;
        if (firstData >= totSec) {
            throw bad("the FATs and root directory (" + firstData + " sectors) fill all " + totSec + " sectors");
        }
        clusterBytes = secPerClus * bytesPerSector;
        clusters = (totSec - firstData) / secPerClus;
        bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
        long fatBytes = fatSz * bytesPerSector;
        long needed = bits == 12 ? (clusters + 2) * 3 / 2 + 1 : (clusters + 2) * (bits / 8);
        if (fatBytes < needed || fatBytes > MAX_FAT_BYTES) {
            throw bad("a FAT of " + fatBytes + " bytes does not fit " + clusters + " clusters (FAT" + bits
                    + ") or exceeds " + MAX_FAT_BYTES + " bytes");
        }
        fat = disk.read(base + (long) reserved * bytesPerSector, (int) fatBytes);
        rootDirOffset = (reserved + numFats * fatSz) * bytesPerSector;
        dataOffset = firstData * bytesPerSector;
        if (bits == 32) {
            if (rootEntries != 0) {
                throw bad("FAT32 with BPB_RootEntCnt " + rootEntries);
            }
            rootCluster = Le.u32(bs, 44);
            checkCluster(rootCluster, "BPB_RootClus");
        } else {
            if (rootEntries == 0) {
                throw bad("FAT" + bits + " with BPB_RootEntCnt 0");
            }
            rootCluster = 0;
        }
        budget = regionBytes;
    }

    /** FAT12, 16 or 32. */
    public int bits() {
        return bits;
    }

    private BadInputException bad(String what) {
        return new BadInputException(where + ": " + what);
    }

    private void checkCluster(long c, String what) {
        if (c < 2 || c >= clusters + 2) {
            throw bad(what + " cluster " + c + " is outside the data area (2.." + (clusters + 1) + ")");
        }
    }

    private long next(long c) {
        long v;
        switch (bits) {
            case 12 -> {
                int o = (int) (c * 3 / 2);
                int w = Le.u16(fat, o);
                v = (c & 1) == 0 ? w & 0xfff : w >>> 4;
                return v >= 0xff8 ? -1 : v;
            }
            case 16 -> {
                v = Le.u16(fat, (int) (c * 2));
                return v >= 0xfff8 ? -1 : v;
            }
            default -> {
                v = Le.u32(fat, (int) (c * 4)) & 0x0fffffffL;
                return v >= 0x0ffffff8L ? -1 : v;
            }
        }
    }

    /** The cluster chain from {@code first}; loops, free or bad clusters inside a chain are errors. */
    private List<Long> chain(long first, String what) {
        List<Long> out = new ArrayList<>();
        Set<Long> seen = new HashSet<>();
        for (long c = first; c != -1; c = next(c)) {
            checkCluster(c, what);
            if (!seen.add(c) || out.size() > clusters) {
                throw bad(what + ": the cluster chain loops at cluster " + c);
            }
            out.add(c);
        }
        return out;
    }

    private void spend(long n, String what) {
        if (n > budget) {
            throw bad(what + ": the file system holds more data than its " + regionBytes
                    + " bytes (cross-linked clusters?)");
        }
        budget -= n;
    }

    /** The entries of the root directory. */
    public List<Entry> root() {
        if (bits == 32) {
            return list(rootCluster, "\\");
        }
        spend((long) rootEntries * 32, "root directory");
        return parse(disk.read(base + rootDirOffset, rootEntries * 32), "\\");
    }

    /** The entries of the directory {@code dir} (from {@link #root()} or another listing). */
    public List<Entry> list(Entry dir, String path) {
        if (!dir.directory()) {
            throw new IllegalArgumentException(path + " is not a directory");
        }
        if (dir.firstCluster() == 0) { // ".." of a first-level directory on FAT12/16 points at the root
            return root();
        }
        return list(dir.firstCluster(), path);
    }

    private List<Entry> list(long first, String path) {
        List<Long> ch = chain(first, path);
        long bytes = (long) ch.size() * clusterBytes;
        if (bytes > 1 << 24) {
            throw bad(path + ": a directory of " + bytes + " bytes");
        }
        spend(bytes, path);
        byte[] d = new byte[(int) bytes];
        for (int i = 0; i < ch.size(); i++) {
            byte[] c = disk.read(base + dataOffset + (ch.get(i) - 2) * clusterBytes, clusterBytes);
            System.arraycopy(c, 0, d, i * clusterBytes, clusterBytes);
        }
        return parse(d, path);
    }

    private List<Entry> parse(byte[] d, String path) {
        List<Entry> out = new ArrayList<>();
        StringBuilder lfn = null;
        for (int o = 0; o + 32 <= d.length; o += 32) {
            int first = d[o] & 0xff;
            if (first == 0) {
                break;
            }
            if (first == 0xe5) {
                lfn = null;
                continue;
            }
            int attr = d[o + 11] & 0xff;
            if ((attr & 0x3f) == 0x0f) { // a long-name part, last part first
                String part = lfnPart(d, o);
                lfn = (first & 0x40) != 0 || lfn == null ? new StringBuilder(part) : lfn.insert(0, part);
                continue;
            }
            String name = lfn != null ? lfn.toString() : shortName(d, o);
            lfn = null;
            if ((attr & 0x08) != 0 || name.equals(".") || name.equals("..")) {
                continue; // volume label, self and parent
            }
            if (++entries > MAX_ENTRIES) {
                throw bad("more than " + MAX_ENTRIES + " directory entries");
            }
            if (name.isEmpty() || name.indexOf('/') >= 0 || name.indexOf('\\') >= 0 || name.indexOf('\0') >= 0) {
                throw bad(path + ": directory entry " + (o / 32) + " has an unusable name");
            }
            long cluster = (long) Le.u16(d, o + 20) << 16 | Le.u16(d, o + 26);
            if (bits != 32) {
                cluster &= 0xffff;
            }
            out.add(new Entry(name, (attr & 0x10) != 0, cluster, Le.u32(d, o + 28)));
        }
        return out;
    }

    private static String lfnPart(byte[] d, int o) {
        StringBuilder sb = new StringBuilder();
        int[][] runs = {{1, 5}, {14, 6}, {28, 2}};
        for (int[] r : runs) {
            for (int i = 0; i < r[1]; i++) {
                char c = (char) Le.u16(d, o + r[0] + 2 * i);
                if (c == 0 || c == 0xffff) {
                    return sb.toString();
                }
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** 8.3 name with the Windows NT case bits (byte 12: 0x08 base lower, 0x10 extension lower). */
    private static String shortName(byte[] d, int o) {
        byte[] n = java.util.Arrays.copyOfRange(d, o, o + 11);
        if ((n[0] & 0xff) == 0x05) {
            n[0] = (byte) 0xe5;
        }
        String b = new String(n, 0, 8, StandardCharsets.ISO_8859_1).stripTrailing();
        String e = new String(n, 8, 3, StandardCharsets.ISO_8859_1).stripTrailing();
        int nt = d[o + 12] & 0xff;
        if ((nt & 0x08) != 0) {
            b = b.toLowerCase(Locale.ROOT);
        }
        if ((nt & 0x10) != 0) {
            e = e.toLowerCase(Locale.ROOT);
        }
        return e.isEmpty() ? b : b + "." + e;
    }

    /** Writes the file {@code f}'s bytes to {@code out}, following its chain for its size. */
    public void read(Entry f, String path, OutputStream out) {
        if (f.size() == 0) {
            return;
        }
        List<Long> ch = chain(f.firstCluster(), path);
        if ((long) ch.size() * clusterBytes < f.size()) {
            throw bad(path + ": DIR_FileSize " + f.size() + " exceeds its " + ch.size() + " clusters");
        }
        spend(f.size(), path);
        long left = f.size();
        try {
            for (long c : ch) {
                if (left <= 0) {
                    break;
                }
                int n = (int) Math.min(left, clusterBytes);
                out.write(disk.read(base + dataOffset + (c - 2) * clusterBytes, n));
                left -= n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies the whole tree into the empty directory {@code target} (no links are ever created). */
    public void extractTo(Path target) {
        extract(root(), "", target, 0);
    }

    private void extract(List<Entry> dir, String path, Path target, int depth) {
        if (depth > MAX_DEPTH) {
            throw bad(path + ": directories nested deeper than " + MAX_DEPTH);
        }
        Set<String> names = new HashSet<>();
        for (Entry e : dir) {
            String p = path + "\\" + e.name();
            if (!names.add(e.name().toLowerCase(Locale.ROOT))) {
                throw bad(p + " appears twice in its directory");
            }
            Path t = target.resolve(e.name());
            if (!t.getParent().equals(target)) {
                throw bad(p + ": an unusable name");
            }
            try {
                if (e.directory()) {
                    Files.createDirectory(t);
                    extract(list(e, p), p, t, depth + 1);
                } else {
                    try (OutputStream o = Files.newOutputStream(t, StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                        read(e, p, o);
                    }
                }
            } catch (IOException x) {
                throw new UncheckedIOException("extracting " + p, x);
            }
        }
    }
}
