package org.kexecmeasured.uefi.spi;

/** EFI_STATUS values (UEFI 2.10 appendix D). */
public final class EfiStatus {
    private EfiStatus() {
    }

    private static final long ERR = 0x8000000000000000L;
    public static final long SUCCESS = 0;
    public static final long LOAD_ERROR = ERR | 1;
    public static final long INVALID_PARAMETER = ERR | 2;
    public static final long UNSUPPORTED = ERR | 3;
    public static final long BAD_BUFFER_SIZE = ERR | 4;
    public static final long BUFFER_TOO_SMALL = ERR | 5;
    public static final long NOT_READY = ERR | 6;
    public static final long DEVICE_ERROR = ERR | 7;
    public static final long WRITE_PROTECTED = ERR | 8;
    public static final long OUT_OF_RESOURCES = ERR | 9;
    public static final long NOT_FOUND = ERR | 14;
    public static final long ACCESS_DENIED = ERR | 15;
    public static final long TIMEOUT = ERR | 18;
    public static final long ALREADY_STARTED = ERR | 20;
    public static final long ABORTED = ERR | 21;
    public static final long END_OF_FILE = ERR | 31;
    public static final long SECURITY_VIOLATION = ERR | 26;
    public static final long MEDIA_CHANGED = ERR | 13;

    public static String name(long s) {
        if (s == SUCCESS) return "SUCCESS";
        if ((s & ERR) == 0) return "WARNING_" + s;
        return switch ((int) (s & ~ERR)) {
            case 1 -> "LOAD_ERROR";
            case 2 -> "INVALID_PARAMETER";
            case 3 -> "UNSUPPORTED";
            case 4 -> "BAD_BUFFER_SIZE";
            case 5 -> "BUFFER_TOO_SMALL";
            case 6 -> "NOT_READY";
            case 7 -> "DEVICE_ERROR";
            case 8 -> "WRITE_PROTECTED";
            case 9 -> "OUT_OF_RESOURCES";
            case 14 -> "NOT_FOUND";
            case 15 -> "ACCESS_DENIED";
            case 18 -> "TIMEOUT";
            case 20 -> "ALREADY_STARTED";
            case 21 -> "ABORTED";
            case 26 -> "SECURITY_VIOLATION";
            case 13 -> "MEDIA_CHANGED";
            case 31 -> "END_OF_FILE";
            default -> "ERROR_" + (s & ~ERR);
        };
    }
}
