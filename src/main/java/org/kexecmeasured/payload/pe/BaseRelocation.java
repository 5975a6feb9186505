package org.kexecmeasured.payload.pe;

/**
 * One base relocation from the .reloc directory: the RVA it patches and its IMAGE_REL_BASED_* type.
 * IMAGE_REL_BASED_ABSOLUTE entries are block padding and are not reported.
 */
public record BaseRelocation(long rva, int type) {
    public static final int IMAGE_REL_BASED_ABSOLUTE = 0;
    public static final int IMAGE_REL_BASED_HIGH = 1;
    public static final int IMAGE_REL_BASED_LOW = 2;
    public static final int IMAGE_REL_BASED_HIGHLOW = 3;
    public static final int IMAGE_REL_BASED_HIGHADJ = 4;
    public static final int IMAGE_REL_BASED_DIR64 = 10;

    public static String typeName(int type) {
        return switch (type) {
            case IMAGE_REL_BASED_ABSOLUTE -> "ABSOLUTE";
            case IMAGE_REL_BASED_HIGH -> "HIGH";
            case IMAGE_REL_BASED_LOW -> "LOW";
            case IMAGE_REL_BASED_HIGHLOW -> "HIGHLOW";
            case IMAGE_REL_BASED_HIGHADJ -> "HIGHADJ";
            case 5 -> "MACHINE_SPECIFIC_5";
            case 7 -> "MACHINE_SPECIFIC_7";
            case 8 -> "MACHINE_SPECIFIC_8";
            case 9 -> "MACHINE_SPECIFIC_9";
            case IMAGE_REL_BASED_DIR64 -> "DIR64";
            default -> "TYPE_" + type;
        };
    }
}
