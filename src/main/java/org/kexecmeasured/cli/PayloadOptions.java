package org.kexecmeasured.cli;

import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.eventlog.CurrentLog;
import org.kexecmeasured.payload.PayloadFile;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The payload and how it runs, as {@code boot} and {@code predict} both take them (the mixin "run"): the
 * same options, the same checks, and the one {@link MeasuredBoot.Request} both commands make from them, so a
 * prediction runs what the boot would run.
 */
final class PayloadOptions {

    Path payload;
    Path esp;
    Path disk;
    String bootPath;
    Path firmwareLog;
    Duration timeBudget;

    /** Adds PAYLOAD and the options of how it runs to {@code command} (as the mixin "run"). */
    void addTo(CommandSpec command) {
        CommandSpec m = CliModel.mixin();
        m.addPositional(CliModel.positional("PAYLOAD", Path.class, () -> payload, v -> payload = v).index("0").required(true)
                .description("UKI, EFI application (e.g. systemd-boot with --esp) or EFI-stub kernel").build());
        m.addOption(CliModel.option("--esp", Path.class, () -> esp, v -> esp = v).paramLabel("DIR")
                .description("directory served as the ESP; PAYLOAD starts as \\EFI\\BOOT\\BOOTX64.EFI").build());
        m.addOption(CliModel.option("--disk", Path.class, () -> disk, v -> disk = v).paramLabel("IMAGE")
                .description("GPT disk image or block device, opened read-only, "
                        + "served through BlockIo/DiskIo (shim and GRUB read the ESP and /boot from it)").build());
        m.addOption(CliModel.option("--boot-path", String.class, () -> bootPath, v -> bootPath = v).paramLabel("PATH")
                .description("PAYLOAD's path on the ESP as a boot option "
                        + "names it, e.g. \\EFI\\debian\\shimx64.efi (default \\EFI\\BOOT\\BOOTX64.EFI)").build());
        m.addOption(CliModel.option("--firmware-log", Path.class, () -> firmwareLog, v -> firmwareLog = v).paramLabel("FILE")
                .description("event log to continue (default: " + CurrentLog.CONTINUED
                        + " when a measured kexec started this system, else " + MeasuredBoot.DEFAULT_FIRMWARE_LOG + ")").build());
        m.addOption(CliModel.option("--time-budget", Duration.class, () -> timeBudget, v -> timeBudget = v)
                .paramLabel("DURATION").defaultValue("120s").converters(new DurationConverter.Positive())
                .description("wall-time budget of the emulation, with a unit: 500ms, 30s, 2m (default: ${DEFAULT-VALUE})").build());
        command.addMixin("run", m);
    }

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
