package org.kexecmeasured.cli;

import org.kexecmeasured.kexec.KexecException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code exec}: start the kernel {@code boot} loaded, at once (sync, then
 * {@code reboot(LINUX_REBOOT_CMD_KEXEC)}), like {@code kexec -e}. Services are not stopped; for an
 * orderly shutdown first use {@code systemctl kexec}, which ends with the same system call.
 */
@Command(name = "exec", mixinStandardHelpOptions = true,
        description = {"Start the loaded kernel now: sync, then reboot(LINUX_REBOOT_CMD_KEXEC).",
                "Services are not stopped: for an orderly shutdown use 'systemctl kexec'.",
                "Exit 2 when no kernel is loaded or the kernel refuses (not root)."})
public final class ExecCommand implements Callable<Integer> {

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
        // the journal first: the system call does not return
        JournalLog.fromEnvironment(System.getenv(), spec.commandLine().getErr()).kexecStarting(stateDir);
        try {
            services.kexec().get().exec();
        } catch (KexecException e) {
            throw KexecCliErrors.of(e);
        }
        throw new IllegalStateException("reboot(LINUX_REBOOT_CMD_KEXEC) returned without an error");
    }
}
