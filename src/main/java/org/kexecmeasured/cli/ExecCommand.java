package org.kexecmeasured.cli;

import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.util.BadInputException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code exec}: start the kernel {@code boot} loaded, at once (sync, then
 * {@code reboot(LINUX_REBOOT_CMD_KEXEC)}), like {@code kexec -e}. Services are not stopped; for an
 * orderly shutdown first use {@code systemctl kexec}, which ends with the same system call.
 *
 * <p>Refused while a boot prepared by {@code boot --at-shutdown} is pending: its kernel is loaded, but its
 * boot is committed only by the system-shutdown hook ({@code commit-pending}); started directly it would
 * run with the PCRs of this system unchanged, so it could unseal what this system could.
 */
@Command(name = "exec", mixinStandardHelpOptions = true,
        description = {"Start the loaded kernel now: sync, then reboot(LINUX_REBOOT_CMD_KEXEC).",
                "Services are not stopped: for an orderly shutdown use 'systemctl kexec'.",
                "Refused while a boot prepared with 'boot --at-shutdown' waits for its commit.",
                "Exit 2 when no kernel is loaded, a boot is pending, or the kernel refuses (not root)."})
public final class ExecCommand implements Callable<Integer> {

    /** Where {@code boot --at-shutdown} saves the pending boot; tests point it elsewhere. */
    @Option(names = "--pending-dir", hidden = true, paramLabel = "DIR")
    Path pendingDir = PendingBoot.DEFAULT_DIR;

    @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = "/run/kexec-measured/state",
            description = "the state directory of the boot that loaded the kernel: run as a service, the journal "
                    + "entry names that boot (generation, boundary nonce, payload digest) (default: ${DEFAULT-VALUE})")
    Path stateDir;

    @Spec
    CommandSpec spec;

    private final Services services;

    ExecCommand(Services services) {
        this.services = services;
    }

    @Override
    public Integer call() {
        refuseWhilePending(pendingDir);
        // the journal first: the system call does not return
        JournalLog.fromEnvironment(System.getenv(), spec.commandLine().getErr()).kexecStarting(stateDir);
        try {
            services.kexec().get().exec();
        } catch (KexecException e) {
            throw KexecCliErrors.of(e);
        }
        throw new IllegalStateException("reboot(LINUX_REBOOT_CMD_KEXEC) returned without an error");
    }

    /**
     * The kernel a pending boot loaded carries an uncommitted sidecar and nothing was extended for it:
     * only the system-shutdown hook, which commits first, may start it.
     */
    static void refuseWhilePending(Path pendingDir) {
        Path f = pendingDir.resolve(PendingBoot.FILE);
        if (Files.exists(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new BadInputException("a boot prepared with 'boot --at-shutdown' is pending (" + f + ") and not committed:"
                    + " starting its kernel now would leave the PCRs as they are; run 'systemctl kexec' (the system-shutdown"
                    + " hook commits it first) or 'kexec-measured commit-pending' first; 'kexec-measured unload' drops it");
        }
    }
}
