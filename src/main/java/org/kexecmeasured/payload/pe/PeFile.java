package org.kexecmeasured.payload.pe;

import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Le;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A parsed PE/COFF image file (Microsoft PE and COFF Specification; UEFI images are PE32/PE32+).
 *
 * <p>{@link #parse} validates every structure it reads against the file length before using it,
 * so hostile input ends in {@link BadInputException} naming what is wrong and at which offset:
 * headers, the section table and each section's raw data must lie inside the file, raw data of
 * sections must not overlap each other or the headers, loaded sections must not overlap in memory
 * and must fit in SizeOfImage, and the base relocation directory must be well formed.
 * The certificate table is only located here; {@link Authenticode} checks it.
 *
 * <p>The file is held as a {@link ByteBuffer}: a wrapped array, or a memory-mapped file so that a
 * large payload needs no heap ({@code inspect} maps). Readers take ranges with {@link #read} or
 * feed them to a hasher with {@link #update}; {@link #bytes()} is the whole file as an array.
 */
public final class PeFile {

    public static final int IMAGE_FILE_MACHINE_I386 = 0x014c;
    public static final int IMAGE_FILE_MACHINE_ARM = 0x01c0;
    public static final int IMAGE_FILE_MACHINE_ARMNT = 0x01c4;
    public static final int IMAGE_FILE_MACHINE_IA64 = 0x0200;
    public static final int IMAGE_FILE_MACHINE_EBC = 0x0ebc;
    public static final int IMAGE_FILE_MACHINE_AMD64 = 0x8664;
    public static final int IMAGE_FILE_MACHINE_ARM64 = 0xaa64;
    public static final int IMAGE_FILE_MACHINE_LOONGARCH32 = 0x6232;
    public static final int IMAGE_FILE_MACHINE_LOONGARCH64 = 0x6264;
    public static final int IMAGE_FILE_MACHINE_RISCV32 = 0x5032;
    public static final int IMAGE_FILE_MACHINE_RISCV64 = 0x5064;
    public static final int IMAGE_FILE_MACHINE_RISCV128 = 0x5128;

    public static final int PE32_MAGIC = 0x10b;
    public static final int PE32PLUS_MAGIC = 0x20b;

    private static final int COFF_HEADER_SIZE = 20;
    private static final int SECTION_HEADER_SIZE = 40;
    /** Far more than any real image (GRUB: ~2,000); keeps a hostile .reloc from costing gigabytes of records. */
    static final int MAX_RELOCATIONS = 2_000_000;
    /** The spec allows 16 data directories; EDK2 and Windows ignore more, hostile files claim billions. */
    private static final int MAX_DATA_DIRECTORIES = 16;

    /** The file; absolute reads only (shared by threads), never written. */
    private final ByteBuffer data;
    /** The array behind {@link #data}, or null for a mapped file. */
    private final byte[] array;
    /** {@link #bytes()} of a mapped file, made on first use. */
    private volatile byte[] copy;
    private final int size;
    private final int peHeaderOffset;
    private final int machine;
    private final int numberOfSections;
    private final long timeDateStamp;
    private final long pointerToSymbolTable;
    private final long numberOfSymbols;
    private final int sizeOfOptionalHeader;
    private final int characteristics;
    private final int optionalHeaderOffset;
    private final boolean pe32Plus;
    private final long addressOfEntryPoint;
    private final long baseOfCode;
    private final long imageBase;
    private final long sectionAlignment;
    private final long fileAlignment;
    private final long sizeOfImage;
    private final long sizeOfHeaders;
    private final long checkSum;
    private final int subsystem;
    private final int dllCharacteristics;
    private final int numberOfRvaAndSizes;
    private final int dataDirectoryOffset;
    private final List<DataDirectory> dataDirectories;
    private final int sectionTableOffset;
    private final List<Section> sections;
    private final List<BaseRelocation> baseRelocations;

    private PeFile(ByteBuffer b, byte[] array) {
        this.data = b;
        this.array = array;
        this.size = b.limit();
        if (size < 0x40) {
            throw bad("file too short for a DOS header (%d bytes, need 64)", size);
        }
        if (u16(b, 0) != 0x5a4d) {
            throw bad("no MZ signature at offset 0");
        }
        long lfanew = u32(b, 0x3c);
        if (lfanew > size - 4 - COFF_HEADER_SIZE) {
            throw bad("e_lfanew 0x%x at offset 0x3c points past the end of the file (%d bytes)", lfanew, size);
        }
        peHeaderOffset = (int) lfanew;
        if (u32(b, peHeaderOffset) != 0x00004550L) {
            throw bad("no PE\\0\\0 signature at offset 0x%x", peHeaderOffset);
        }
        int coff = peHeaderOffset + 4;
        machine = u16(b, coff);
        numberOfSections = u16(b, coff + 2);
        timeDateStamp = u32(b, coff + 4);
        pointerToSymbolTable = u32(b, coff + 8);
        numberOfSymbols = u32(b, coff + 12);
        sizeOfOptionalHeader = u16(b, coff + 16);
        characteristics = u16(b, coff + 18);
        optionalHeaderOffset = coff + COFF_HEADER_SIZE;
        if (sizeOfOptionalHeader < 2 || (long) optionalHeaderOffset + sizeOfOptionalHeader > size) {
            throw bad("optional header at 0x%x (SizeOfOptionalHeader %d) does not fit in the file (%d bytes)",
                    optionalHeaderOffset, sizeOfOptionalHeader, size);
        }
        int o = optionalHeaderOffset;
        int magic = u16(b, o);
        if (magic == PE32_MAGIC) {
            pe32Plus = false;
        } else if (magic == PE32PLUS_MAGIC) {
            pe32Plus = true;
        } else {
            throw bad("optional header magic 0x%x at offset 0x%x is neither PE32 (0x10b) nor PE32+ (0x20b)", magic, o);
        }
        int fixedPart = pe32Plus ? 112 : 96;
        if (sizeOfOptionalHeader < fixedPart) {
            throw bad("SizeOfOptionalHeader %d at offset 0x%x is smaller than the %s fixed part (%d)",
                    sizeOfOptionalHeader, coff + 16, pe32Plus ? "PE32+" : "PE32", fixedPart);
        }
        addressOfEntryPoint = u32(b, o + 16);
        baseOfCode = u32(b, o + 20);
        imageBase = pe32Plus ? u64(b, o + 24) : u32(b, o + 28);
        sectionAlignment = u32(b, o + 32);
        fileAlignment = u32(b, o + 36);
        sizeOfImage = u32(b, o + 56);
        sizeOfHeaders = u32(b, o + 60);
        checkSum = u32(b, o + 64);
        subsystem = u16(b, o + 68);
        dllCharacteristics = u16(b, o + 70);
        long nRva = u32(b, o + (pe32Plus ? 108 : 92));
        dataDirectoryOffset = o + fixedPart;
        long fitting = (sizeOfOptionalHeader - fixedPart) / 8;
        if (nRva > fitting) {
            throw bad("NumberOfRvaAndSizes %d at offset 0x%x exceeds the %d directories that fit in the optional header",
                    nRva, o + (pe32Plus ? 108 : 92), fitting);
        }
        numberOfRvaAndSizes = (int) nRva;
        List<DataDirectory> dirs = new ArrayList<>();
        for (int i = 0; i < Math.min(numberOfRvaAndSizes, MAX_DATA_DIRECTORIES); i++) {
            int d = dataDirectoryOffset + 8 * i;
            dirs.add(new DataDirectory(i, u32(b, d), u32(b, d + 4)));
        }
        dataDirectories = Collections.unmodifiableList(dirs);

        sectionTableOffset = optionalHeaderOffset + sizeOfOptionalHeader;
        long tableEnd = (long) sectionTableOffset + (long) numberOfSections * SECTION_HEADER_SIZE;
        if (tableEnd > size) {
            throw bad("section table at 0x%x with %d entries ends at 0x%x, past the end of the file (%d bytes)",
                    sectionTableOffset, numberOfSections, tableEnd, size);
        }
        if (sizeOfHeaders > size) {
            throw bad("SizeOfHeaders 0x%x at offset 0x%x is past the end of the file (%d bytes)",
                    sizeOfHeaders, o + 60, size);
        }
        if (tableEnd > sizeOfHeaders) {
            throw bad("section table ends at 0x%x, past SizeOfHeaders 0x%x", tableEnd, sizeOfHeaders);
        }
        sections = Collections.unmodifiableList(parseSections(b));
        checkLayout();
        baseRelocations = Collections.unmodifiableList(parseRelocations(b));
    }

    /** Parses and validates a PE/COFF image; BadInputException says what is wrong and where. */
    public static PeFile parse(byte[] image) {
        if (image == null) throw new BadInputException("no PE image (null)");
        return new PeFile(ByteBuffer.wrap(image), image);
    }

    /**
     * Parses an image held in a buffer (a mapped file, a slice of one): bytes 0 to its limit, read
     * with absolute indexes. The buffer must not change while the PeFile is in use.
     */
    public static PeFile parse(ByteBuffer image) {
        if (image == null) throw new BadInputException("no PE image (null)");
        ByteBuffer b = image.duplicate().position(0);
        if (image.hasArray() && image.arrayOffset() == 0 && image.array().length == image.limit()) {
            return new PeFile(b, image.array());
        }
        return new PeFile(b, null);
    }

    /** Cheap check: "MZ" at 0 and "PE\0\0" where e_lfanew points. Does not validate further. */
    public static boolean looksLikePe(byte[] b) {
        return looksLikePe(ByteBuffer.wrap(b));
    }

    /** {@link #looksLikePe(byte[])} on a buffer (bytes 0 to its limit). */
    public static boolean looksLikePe(ByteBuffer b) {
        int n = b.limit();
        if (n < 0x40 || Le.u16(b, 0) != 0x5a4d) return false;
        long lfanew = Le.u32(b, 0x3c);
        return lfanew <= n - 4 && Le.u32(b, (int) lfanew) == 0x00004550L;
    }

    private List<Section> parseSections(ByteBuffer b) {
        List<Section> list = new ArrayList<>(numberOfSections);
        for (int i = 0; i < numberOfSections; i++) {
            int s = sectionTableOffset + i * SECTION_HEADER_SIZE;
            String name = sectionName(b, s);
            long vsize = u32(b, s + 8);
            long va = u32(b, s + 12);
            long rawSize = u32(b, s + 16);
            long rawPtr = u32(b, s + 20);
            int ch = (int) u32(b, s + 36);
            if (rawSize != 0 && rawPtr + rawSize > size) {
                throw bad("section %d '%s' raw data [0x%x, 0x%x) extends past the end of the file (%d bytes)",
                        i, name, rawPtr, rawPtr + rawSize, size);
            }
            list.add(new Section(name, va, vsize, rawPtr, rawSize, ch));
        }
        return list;
    }

    private String sectionName(ByteBuffer b, int s) {
        int len = 0;
        while (len < 8 && b.get(s + len) != 0) len++;
        String raw = new String(Le.copy(b, s, len), StandardCharsets.ISO_8859_1);
        // Long names ("/123") point into the COFF string table after the symbol table; objcopy emits them.
        if (raw.length() > 1 && raw.charAt(0) == '/' && pointerToSymbolTable != 0) {
            try {
                long off = Long.parseLong(raw.substring(1));
                long strtab = pointerToSymbolTable + numberOfSymbols * 18;
                if (strtab + 4 <= size) {
                    long tabSize = u32(b, (int) strtab);
                    if (off >= 4 && off < tabSize && strtab + tabSize <= size) {
                        int start = (int) (strtab + off);
                        int end = start;
                        while (end < strtab + tabSize && b.get(end) != 0) end++;
                        return new String(Le.copy(b, start, end - start), StandardCharsets.ISO_8859_1);
                    }
                }
            } catch (NumberFormatException ignored) {
                // not a string-table reference: keep the literal name
            }
        }
        return raw;
    }

    private void checkLayout() {
        // Raw data: no overlap with each other or with the headers (a hash over such a file is ambiguous).
        List<Section> byRaw = new ArrayList<>();
        for (Section s : sections) if (s.sizeOfRawData() != 0) byRaw.add(s);
        byRaw.sort(Comparator.comparingLong(Section::pointerToRawData));
        long prevEnd = sizeOfHeaders;
        String prevName = "headers";
        for (Section s : byRaw) {
            if (s.pointerToRawData() < prevEnd) {
                throw bad("section '%s' raw data at 0x%x overlaps %s (which end at 0x%x)",
                        s.name(), s.pointerToRawData(), prevName.equals("headers") ? "the headers" : "section '" + prevName + "'", prevEnd);
            }
            prevEnd = s.pointerToRawData() + s.sizeOfRawData();
            prevName = s.name();
        }
        // Memory: each section inside SizeOfImage, no two overlapping once loaded.
        List<Section> byVa = new ArrayList<>(sections);
        byVa.sort(Comparator.comparingLong(Section::virtualAddress));
        long prevVaEnd = 0;
        String prevVaName = null;
        for (Section s : byVa) {
            long size = s.virtualSize();
            long end = s.virtualAddress() + size;
            if (end > sizeOfImage) {
                throw bad("section '%s' [0x%x, 0x%x) extends past SizeOfImage 0x%x", s.name(), s.virtualAddress(), end, sizeOfImage);
            }
            if (size > 0 && prevVaName != null && s.virtualAddress() < prevVaEnd) {
                throw bad("section '%s' at RVA 0x%x overlaps section '%s' (which ends at RVA 0x%x)",
                        s.name(), s.virtualAddress(), prevVaName, prevVaEnd);
            }
            if (size > 0) {
                prevVaEnd = end;
                prevVaName = s.name();
            }
        }
    }

    private List<BaseRelocation> parseRelocations(ByteBuffer b) {
        DataDirectory dir = dataDirectory(DataDirectory.BASERELOC);
        if (dir == null || dir.size() == 0) return List.of();
        long start = rvaToOffset(dir.virtualAddress(), dir.size());
        if (start < 0) {
            throw bad("base relocation directory RVA 0x%x size 0x%x is not inside one section's file data",
                    dir.virtualAddress(), dir.size());
        }
        List<BaseRelocation> out = new ArrayList<>();
        long p = start;
        long end = start + dir.size();
        int block = 0;
        while (p + 8 <= end) {
            long page = u32(b, (int) p);
            long blockSize = u32(b, (int) p + 4);
            if (blockSize < 8 || blockSize > end - p || (blockSize & 1) != 0) {
                throw bad("base relocation block %d at offset 0x%x has invalid size 0x%x (%d bytes left in directory)",
                        block, p, blockSize, end - p);
            }
            for (long e = p + 8; e + 2 <= p + blockSize; e += 2) {
                int entry = u16(b, (int) e);
                int type = entry >>> 12;
                if (type == BaseRelocation.IMAGE_REL_BASED_ABSOLUTE) continue;
                if (out.size() >= MAX_RELOCATIONS) {
                    throw bad("base relocation directory holds more than %d relocations (block %d at offset 0x%x)", MAX_RELOCATIONS, block, p);
                }
                out.add(new BaseRelocation(page + (entry & 0xfff), type));
            }
            p += blockSize;
            block++;
        }
        return out;
    }

    /**
     * File offset of {@code len} bytes at {@code rva}, or -1 when they do not lie within one
     * section's raw data (or within the headers).
     */
    public long rvaToOffset(long rva, long len) {
        if (rva + len <= sizeOfHeaders) return rva;
        for (Section s : sections) {
            if (rva >= s.virtualAddress() && rva + len <= s.virtualAddress() + s.sizeOfRawData()) {
                return s.pointerToRawData() + (rva - s.virtualAddress());
            }
        }
        return -1;
    }

    private static BadInputException bad(String fmt, Object... args) {
        return new BadInputException("PE: " + String.format(fmt, args));
    }

    static int u16(ByteBuffer b, int off) {
        return Le.u16(b, off);
    }

    static long u32(ByteBuffer b, int off) {
        return Le.u32(b, off);
    }

    static long u64(ByteBuffer b, int off) {
        return Le.u64(b, off);
    }

    // ---- accessors ----

    public int machine() {
        return machine;
    }

    public String machineName() {
        return machineName(machine);
    }

    public static String machineName(int machine) {
        return switch (machine) {
            case IMAGE_FILE_MACHINE_I386 -> "i386";
            case IMAGE_FILE_MACHINE_AMD64 -> "x86_64";
            case IMAGE_FILE_MACHINE_ARM64 -> "aarch64";
            case IMAGE_FILE_MACHINE_ARM, IMAGE_FILE_MACHINE_ARMNT -> "arm";
            case IMAGE_FILE_MACHINE_IA64 -> "ia64";
            case IMAGE_FILE_MACHINE_EBC -> "ebc";
            case IMAGE_FILE_MACHINE_RISCV32 -> "riscv32";
            case IMAGE_FILE_MACHINE_RISCV64 -> "riscv64";
            case IMAGE_FILE_MACHINE_RISCV128 -> "riscv128";
            case IMAGE_FILE_MACHINE_LOONGARCH32 -> "loongarch32";
            case IMAGE_FILE_MACHINE_LOONGARCH64 -> "loongarch64";
            default -> String.format("unknown(0x%04x)", machine);
        };
    }

    public boolean isPe32Plus() {
        return pe32Plus;
    }

    public int peHeaderOffset() {
        return peHeaderOffset;
    }

    public int numberOfSections() {
        return numberOfSections;
    }

    public long timeDateStamp() {
        return timeDateStamp;
    }

    public long pointerToSymbolTable() {
        return pointerToSymbolTable;
    }

    public long numberOfSymbols() {
        return numberOfSymbols;
    }

    public int sizeOfOptionalHeader() {
        return sizeOfOptionalHeader;
    }

    /** COFF header Characteristics (IMAGE_FILE_*). */
    public int characteristics() {
        return characteristics;
    }

    public long imageBase() {
        return imageBase;
    }

    public long sizeOfImage() {
        return sizeOfImage;
    }

    public long sizeOfHeaders() {
        return sizeOfHeaders;
    }

    public long addressOfEntryPoint() {
        return addressOfEntryPoint;
    }

    public long baseOfCode() {
        return baseOfCode;
    }

    public long sectionAlignment() {
        return sectionAlignment;
    }

    public long fileAlignment() {
        return fileAlignment;
    }

    public long checkSum() {
        return checkSum;
    }

    public int subsystem() {
        return subsystem;
    }

    public static String subsystemName(int subsystem) {
        return switch (subsystem) {
            case 10 -> "EFI_APPLICATION";
            case 11 -> "EFI_BOOT_SERVICE_DRIVER";
            case 12 -> "EFI_RUNTIME_DRIVER";
            case 13 -> "EFI_ROM";
            case 1 -> "NATIVE";
            case 2 -> "WINDOWS_GUI";
            case 3 -> "WINDOWS_CUI";
            default -> "subsystem " + subsystem;
        };
    }

    public int dllCharacteristics() {
        return dllCharacteristics;
    }

    public int numberOfRvaAndSizes() {
        return numberOfRvaAndSizes;
    }

    public List<Section> sections() {
        return sections;
    }

    public List<DataDirectory> dataDirectories() {
        return dataDirectories;
    }

    /** The directory entry, or null when NumberOfRvaAndSizes does not include it. */
    public DataDirectory dataDirectory(int index) {
        return index >= 0 && index < dataDirectories.size() ? dataDirectories.get(index) : null;
    }

    /**
     * The whole file as an array (do not modify): the parsed array itself, or for a mapped file a
     * heap copy made once on first use. Prefer {@link #read} and {@link #update}, which need no heap.
     */
    public byte[] bytes() {
        if (array != null) return array;
        byte[] c = copy;
        if (c == null) {
            synchronized (this) {
                c = copy;
                if (c == null) copy = c = Le.copy(data, 0, size);
            }
        }
        return c;
    }

    /** The file as a read-only buffer (its own position; absolute indexes = file offsets). */
    public ByteBuffer data() {
        return data.asReadOnlyBuffer();
    }

    /**
     * A view of {@code len} bytes at file offset {@code off} (no copy; do not modify), e.g. a UKI's
     * .linux as a file of its own; BadInputException when outside the file.
     */
    public ByteBuffer slice(long off, long len) {
        if (off < 0 || len < 0 || off + len > size) {
            throw bad("range [0x%x, +0x%x) is outside the file (%d bytes)", off, len, size);
        }
        return data.slice((int) off, (int) len);
    }

    /** A copy of {@code len} bytes at file offset {@code off}; BadInputException when outside the file. */
    public byte[] read(long off, long len) {
        if (off < 0 || len < 0 || off + len > size) {
            throw bad("range [0x%x, +0x%x) is outside the file (%d bytes)", off, len, size);
        }
        return Le.copy(data, (int) off, (int) len);
    }

    /** Feeds file bytes [off, off+len) to the hasher without copying them to the heap. */
    public void update(MultiHasher h, long off, long len) {
        if (off < 0 || len < 0 || off + len > size) {
            throw bad("range [0x%x, +0x%x) is outside the file (%d bytes)", off, len, size);
        }
        if (array != null) h.update(array, (int) off, (int) len);
        else h.update(data, (int) off, (int) len);
    }

    public long fileSize() {
        return size;
    }

    /** The first section with this name. */
    public Optional<Section> section(String name) {
        for (Section s : sections) {
            if (s.name().equals(name)) return Optional.of(s);
        }
        return Optional.empty();
    }

    /** Raw file bytes of a section: SizeOfRawData bytes, clipped to the file; no padding to VirtualSize. */
    public byte[] sectionData(Section s) {
        long start = Math.min(s.pointerToRawData(), size);
        long end = Math.min(start + s.sizeOfRawData(), size);
        if (s.sizeOfRawData() == 0) return new byte[0];
        return Le.copy(data, (int) start, (int) (end - start));
    }

    /** Parsed .reloc entries (IMAGE_REL_BASED_ABSOLUTE padding left out). */
    public List<BaseRelocation> baseRelocations() {
        return baseRelocations;
    }

    public int optionalHeaderOffset() {
        return optionalHeaderOffset;
    }

    /** File offset of the optional header's CheckSum field. */
    public int checkSumOffset() {
        return optionalHeaderOffset + 64;
    }

    /** File offset of the data directory array. */
    public int dataDirectoryOffset() {
        return dataDirectoryOffset;
    }

    /**
     * File offset of the certificate table data directory entry (index 4). When the header has
     * fewer than five directories the offset is where it would be; callers check
     * {@link #numberOfRvaAndSizes()}.
     */
    public int certificateTableDirOffset() {
        return dataDirectoryOffset + 8 * DataDirectory.SECURITY;
    }

    public int sectionTableOffset() {
        return sectionTableOffset;
    }
}
