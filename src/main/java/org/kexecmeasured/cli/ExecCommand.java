package org.kexecmeasured.cli;

import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.util.BadInputException;
import picocli.CommandLine.Model.CommandSpec;

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
public final class ExecCommand implements Callable<Integer> {

    /** Where {@code boot --at-shutdown} saves the pending boot; tests point it elsewhere (--pending-dir, hidden). */
    Path pendingDir = PendingBoot.DEFAULT_DIR;
    Path stateDir;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        ExecCommand c = new ExecCommand(services);
        CommandSpec s = CliModel.command(c, "exec",
                "Start the loaded kernel now: sync, then reboot(LINUX_REBOOT_CMD_KEXEC).",
                "Services are not stopped: for an orderly shutdown use 'systemctl kexec'.",
                "Refused while a boot prepared with 'boot --at-shutdown' waits for its commit.",
                "Exit 2 when no kernel is loaded, a boot is pending, or the kernel refuses (not root).");
        s.addOption(CliModel.option("--pending-dir", Path.class, () -> c.pendingDir, v -> c.pendingDir = v).hidden(true)
                .paramLabel("DIR").build());
        s.addOption(CliModel.option("--state-dir", Path.class, () -> c.stateDir, v -> c.stateDir = v).paramLabel("DIR")
                .defaultValue("/run/kexec-measured/state")
                .description("the state directory of the boot that loaded the kernel: run as a service, the journal "
                        + "entry names that boot (generation, boundary nonce, payload digest) (default: ${DEFAULT-VALUE})").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

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
