package org.kexecmeasured.payload.pe;

/**
 * One IMAGE_SECTION_HEADER. {@code name} is the 8-byte name without trailing NULs, or the
 * resolved long name when the header holds a "/offset" reference into the COFF string table.
 */
public record Section(String name, long virtualAddress, long virtualSize, long pointerToRawData,
                      long sizeOfRawData, int characteristics) {

    public static final int IMAGE_SCN_CNT_CODE = 0x00000020;
    public static final int IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040;
    public static final int IMAGE_SCN_CNT_UNINITIALIZED_DATA = 0x00000080;
    public static final int IMAGE_SCN_MEM_DISCARDABLE = 0x02000000;
    public static final int IMAGE_SCN_MEM_SHARED = 0x10000000;
    public static final int IMAGE_SCN_MEM_EXECUTE = 0x20000000;
    public static final int IMAGE_SCN_MEM_READ = 0x40000000;
    public static final int IMAGE_SCN_MEM_WRITE = 0x80000000;

    /** "r-x" style summary of the memory flags, plus code/data/bss markers. */
    public String flagsText() {
        StringBuilder sb = new StringBuilder();
        sb.append((characteristics & IMAGE_SCN_MEM_READ) != 0 ? 'r' : '-');
        sb.append((characteristics & IMAGE_SCN_MEM_WRITE) != 0 ? 'w' : '-');
        sb.append((characteristics & IMAGE_SCN_MEM_EXECUTE) != 0 ? 'x' : '-');
        if ((characteristics & IMAGE_SCN_CNT_CODE) != 0) sb.append(" code");
        if ((characteristics & IMAGE_SCN_CNT_INITIALIZED_DATA) != 0) sb.append(" data");
        if ((characteristics & IMAGE_SCN_CNT_UNINITIALIZED_DATA) != 0) sb.append(" bss");
        if ((characteristics & IMAGE_SCN_MEM_DISCARDABLE) != 0) sb.append(" discardable");
        if ((characteristics & IMAGE_SCN_MEM_SHARED) != 0) sb.append(" shared");
        return sb.toString();
    }
}
