package org.kexecmeasured.eventlog;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/** TCG PC Client PFP event types (UINT32 EventType). Unknown values print as hex. */
public final class EventType {
    public static final int EV_PREBOOT_CERT = 0x0;
    public static final int EV_POST_CODE = 0x1;
    public static final int EV_UNUSED = 0x2;
    public static final int EV_NO_ACTION = 0x3;
    public static final int EV_SEPARATOR = 0x4;
    public static final int EV_ACTION = 0x5;
    public static final int EV_EVENT_TAG = 0x6;
    public static final int EV_S_CRTM_CONTENTS = 0x7;
    public static final int EV_S_CRTM_VERSION = 0x8;
    public static final int EV_CPU_MICROCODE = 0x9;
    public static final int EV_PLATFORM_CONFIG_FLAGS = 0xA;
    public static final int EV_TABLE_OF_DEVICES = 0xB;
    public static final int EV_COMPACT_HASH = 0xC;
    public static final int EV_IPL = 0xD;
    public static final int EV_IPL_PARTITION_DATA = 0xE;
    public static final int EV_NONHOST_CODE = 0xF;
    public static final int EV_NONHOST_CONFIG = 0x10;
    public static final int EV_NONHOST_INFO = 0x11;
    public static final int EV_OMIT_BOOT_DEVICE_EVENTS = 0x12;
    public static final int EV_POST_CODE2 = 0x13;

    public static final int EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001;
    public static final int EV_EFI_VARIABLE_BOOT = 0x80000002;
    public static final int EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003;
    public static final int EV_EFI_BOOT_SERVICES_DRIVER = 0x80000004;
    public static final int EV_EFI_RUNTIME_SERVICES_DRIVER = 0x80000005;
    public static final int EV_EFI_GPT_EVENT = 0x80000006;
    public static final int EV_EFI_ACTION = 0x80000007;
    public static final int EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x80000008;
    public static final int EV_EFI_HANDOFF_TABLES = 0x80000009;
    public static final int EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000000A;
    public static final int EV_EFI_HANDOFF_TABLES2 = 0x8000000B;
    public static final int EV_EFI_VARIABLE_BOOT2 = 0x8000000C;
    public static final int EV_EFI_GPT_EVENT2 = 0x8000000D;
    public static final int EV_EFI_HCRTM_EVENT = 0x80000010;
    public static final int EV_EFI_VARIABLE_AUTHORITY = 0x800000E0;
    public static final int EV_EFI_SPDM_FIRMWARE_BLOB = 0x800000E1;
    public static final int EV_EFI_SPDM_FIRMWARE_CONFIG = 0x800000E2;
    public static final int EV_EFI_SPDM_DEVICE_POLICY = 0x800000E3;
    public static final int EV_EFI_SPDM_DEVICE_AUTHORITY = 0x800000E4;

    private static final Map<Integer, String> NAMES = new HashMap<>();
    private static final Map<String, Integer> VALUES = new HashMap<>();

    static {
        for (java.lang.reflect.Field f : EventType.class.getFields()) {
            if (f.getType() == int.class && f.getName().startsWith("EV_")) {
                try {
                    NAMES.put(f.getInt(null), f.getName());
                    VALUES.put(f.getName(), f.getInt(null));
                } catch (IllegalAccessException e) {
                    throw new ExceptionInInitializerError(e);
                }
            }
        }
    }

    private EventType() {
    }

    /** The spec name, or "0x%08x" for a type this tool does not know. */
    public static String name(int type) {
        String n = NAMES.get(type);
        return n != null ? n : String.format(Locale.ROOT, "0x%08x", type);
    }

    /** Whether the type is one of the named ones. */
    public static boolean isKnown(int type) {
        return NAMES.containsKey(type);
    }

    /** Parses a name ("EV_IPL") or a number ("0xd", "13"); -1L when neither. */
    public static long parse(String s) {
        Integer v = VALUES.get(s.toUpperCase(Locale.ROOT));
        if (v != null) return v & 0xffffffffL;
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) return Long.parseLong(s.substring(2), 16);
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return -1L;
        }
    }
}
