package org.kexecmeasured.cli;

import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.eventlog.CurrentLog;
import org.kexecmeasured.payload.PayloadFile;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The payload and how it runs, as {@code boot} and {@code predict} both take them (a picocli {@code @Mixin}): the
 * same options, the same checks, and the one {@link MeasuredBoot.Request} both commands make from them, so a
 * prediction runs what the boot would run.
 */
final class PayloadOptions {

    @Parameters(index = "0", paramLabel = "PAYLOAD", description = "UKI, EFI application (e.g. systemd-boot with --esp) or EFI-stub kernel")
    Path payload;

    @Option(names = "--esp", paramLabel = "DIR", description = "directory served as the ESP; PAYLOAD starts as \\EFI\\BOOT\\BOOTX64.EFI")
    Path esp;

    @Option(names = "--disk", paramLabel = "IMAGE", description = "GPT disk image or block device, opened read-only, "
            + "served through BlockIo/DiskIo (shim and GRUB read the ESP and /boot from it)")
    Path disk;

    @Option(names = "--boot-path", paramLabel = "PATH", description = "PAYLOAD's path on the ESP as a boot option "
            + "names it, e.g. \\EFI\\debian\\shimx64.efi (default \\EFI\\BOOT\\BOOTX64.EFI)")
    String bootPath;

    @Option(names = "--firmware-log", paramLabel = "FILE", description = "event log to continue (default: "
            + CurrentLog.CONTINUED + " when a measured kexec started this system, else " + MeasuredBoot.DEFAULT_FIRMWARE_LOG + ")")
    Path firmwareLog;

    @Option(names = "--time-budget", paramLabel = "DURATION", defaultValue = "120s", converter = DurationConverter.Positive.class,
            description = "wall-time budget of the emulation, with a unit: 500ms, 30s, 2m (default: ${DEFAULT-VALUE})")
    Duration timeBudget;

    /** --disk and --boot-path: checked before anything else runs. */
    void checkDisk() {
        BootCommand.checkDisk(disk, bootPath);
    }

    /**
     * The payload's bytes, after the checks every command that runs a payload makes: the file mapped under a read
     * lease, else a private copy ({@link PayloadFile}). The caller closes it after its last
     * {@link PayloadFile#checkUnchanged}.
     */
    PayloadFile open() throws IOException {
        return BootCommand.readPayload(payload, esp);
    }

    /** The log to continue: --firmware-log, else the one this system's boot left (with why, for people). */
    CurrentLog.Choice log() {
        return firmwareLog != null ? new CurrentLog.Choice(firmwareLog, false, null) : CurrentLog.choose();
    }

    /** The payload's file name, as the outputs name it. */
    String name() {
        return payload.getFileName().toString();
    }

    /** The request both commands make: this payload, run as these options say, continuing {@code log}. */
    MeasuredBoot.Request request(PayloadFile bytes, Path log, Path stateDir, Path eventlogOut, BootPolicy policy,
                                 Duration lockWait, OsLogs osLogs) {
        return new MeasuredBoot.Request(bytes, name(), esp, log, stateDir, eventlogOut, policy, Main.version(),
                timeBudget.toMillis(), lockWait, disk, bootPath, osLogs);
    }
}
