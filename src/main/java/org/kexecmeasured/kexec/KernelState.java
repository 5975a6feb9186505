package org.kexecmeasured.kexec;

import org.kexecmeasured.util.BoundedFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What the running kernel says about kexec, read from sysfs/procfs (Documentation/ABI/testing/sysfs-kernel-kexec*,
 * Documentation/admin-guide/LSM/... lockdown): whether a kernel is loaded for {@code reboot(KEXEC)} and for a crash,
 * the size of the crash kernel reservation, whether kexec is disabled by sysctl, and the lockdown mode.
 * A file that does not exist reads as "unknown" (null), never as a guessed value.
 *
 * @param loaded           {@code /sys/kernel/kexec_loaded} = 1
 * @param crashLoaded      {@code /sys/kernel/kexec_crash_loaded} = 1
 * @param crashSize        {@code /sys/kernel/kexec_crash_size}: bytes reserved by {@code crashkernel=} (0: none)
 * @param kexecDisabled    {@code /proc/sys/kernel/kexec_load_disabled} = 1 (one-way switch until reboot)
 * @param lockdown         the bracketed mode of {@code /sys/kernel/security/lockdown}
 */
public record KernelState(Boolean loaded, Boolean crashLoaded, Long crashSize, Boolean kexecDisabled, Lockdown lockdown) {

    /** Kernel lockdown modes (security/lockdown/lockdown.c); UNKNOWN when securityfs or the LSM is absent. */
    public enum Lockdown {
        NONE, INTEGRITY, CONFIDENTIALITY, UNKNOWN;

        /** Parses "none [integrity] confidentiality": the bracketed word is the active mode. */
        public static Lockdown parse(String text) {
            if (text == null) return UNKNOWN;
            int a = text.indexOf('['), b = text.indexOf(']', a + 1);
            if (a < 0 || b < 0) return UNKNOWN;
            return switch (text.substring(a + 1, b).trim().toLowerCase(Locale.ROOT)) {
                case "none" -> NONE;
                case "integrity" -> INTEGRITY;
                case "confidentiality" -> CONFIDENTIALITY;
                default -> UNKNOWN;
            };
        }

        /** Integrity and confidentiality both forbid unsigned kexec images and kexec_load. */
        public boolean restrictsKexec() {
            return this == INTEGRITY || this == CONFIDENTIALITY;
        }

        public String text() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The running system. */
    public static KernelState read() {
        return read(Path.of("/"));
    }

    /** Reads below {@code root} (tests give a directory tree shaped like / ). */
    public static KernelState read(Path root) {
        return new KernelState(flag(root.resolve("sys/kernel/kexec_loaded")),
                flag(root.resolve("sys/kernel/kexec_crash_loaded")),
                number(root.resolve("sys/kernel/kexec_crash_size")),
                flag(root.resolve("proc/sys/kernel/kexec_load_disabled")),
                Lockdown.parse(text(root.resolve("sys/kernel/security/lockdown"))));
    }

    private static String text(Path p) {
        try {
            // sysfs files are small; cap the read anyway (a hostile bind mount could put anything there)
            if (Files.notExists(p)) return null;
            byte[] b;
            try (BoundedFiles.Input in = BoundedFiles.open(p, BoundedFiles.TEXT)) {
                b = in.head(256);
            }
            return new String(b, StandardCharsets.US_ASCII).trim();
        } catch (org.kexecmeasured.util.BadInputException | SecurityException e) {
            return null;
        }
    }

    private static Boolean flag(Path p) {
        String t = text(p);
        if (t == null) return null;
        return switch (t) {
            case "1" -> Boolean.TRUE;
            case "0" -> Boolean.FALSE;
            default -> null;
        };
    }

    private static Long number(Path p) {
        String t = text(p);
        if (t == null) return null;
        try {
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
