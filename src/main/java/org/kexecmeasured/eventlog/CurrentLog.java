package org.kexecmeasured.eventlog;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which log describes this system's PCRs. After a kexec_file_load the kernel's securityfs file still
 * holds only the firmware's records (the next kernel reads the first boot's config table), while the
 * sidecar a measured kexec left in the initrd — copied by the initrd hook to
 * {@code /run/kexec-measured/tpm2-event-log.bin} — continues that log with the boundary and the
 * payload's records. So the continued log wins when it is there; otherwise the firmware's.
 */
public final class CurrentLog {
    public static final String SECURITYFS = "/sys/kernel/security/tpm0/binary_bios_measurements";
    public static final String CONTINUED = "/run/kexec-measured/tpm2-event-log.bin";

    /** The chosen file and a sentence saying which one it is. */
    public record Choice(Path path, boolean continued, String note) {
    }

    private CurrentLog() {
    }

    public static Choice choose() {
        return choose(Path.of("/"));
    }

    /** Looks below {@code root} (tests give a directory shaped like /). */
    public static Choice choose(Path root) {
        Path continued = root.resolve(CONTINUED.substring(1));
        if (Files.isRegularFile(continued)) {
            return new Choice(continued, true, "reading the continued log " + continued + " (this system was started by "
                    + "a measured kexec; " + SECURITYFS + " holds only the firmware's records)");
        }
        Path fw = root.resolve(SECURITYFS.substring(1));
        return new Choice(fw, false, "reading the firmware's log " + fw);
    }
}
