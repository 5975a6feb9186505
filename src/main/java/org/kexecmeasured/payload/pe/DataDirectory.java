package org.kexecmeasured.payload.pe;

/**
 * One IMAGE_DATA_DIRECTORY entry. For the certificate table (index 4) {@code virtualAddress}
 * is a file offset, not an RVA (PE/COFF spec, "The Attribute Certificate Table").
 */
public record DataDirectory(int index, long virtualAddress, long size) {

    public static final int EXPORT = 0;
    public static final int IMPORT = 1;
    public static final int RESOURCE = 2;
    public static final int EXCEPTION = 3;
    public static final int SECURITY = 4;
    public static final int BASERELOC = 5;
    public static final int DEBUG = 6;
    public static final int ARCHITECTURE = 7;
    public static final int GLOBALPTR = 8;
    public static final int TLS = 9;
    public static final int LOAD_CONFIG = 10;
    public static final int BOUND_IMPORT = 11;
    public static final int IAT = 12;
    public static final int DELAY_IMPORT = 13;
    public static final int CLR_RUNTIME_HEADER = 14;
    public static final int RESERVED = 15;

    private static final String[] NAMES = {
            "export", "import", "resource", "exception", "certificate", "basereloc", "debug",
            "architecture", "globalptr", "tls", "load-config", "bound-import", "iat",
            "delay-import", "clr-runtime", "reserved"};

    public String name() {
        return index < NAMES.length ? NAMES[index] : "dir" + index;
    }

    public boolean isEmpty() {
        return virtualAddress == 0 && size == 0;
    }
}
