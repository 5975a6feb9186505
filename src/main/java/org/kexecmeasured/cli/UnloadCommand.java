package org.kexecmeasured.cli;

import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.kexec.KernelState;
import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.KexecFileLoader.Target;
import picocli.CommandLine.Model.CommandSpec;

import java.util.concurrent.Callable;

/** {@code unload}: drop the kernel loaded for kexec (or, with {@code --crash}, the crash kernel). */
public final class UnloadCommand implements Callable<Integer> {

    boolean crash;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        UnloadCommand c = new UnloadCommand(services);
        CommandSpec s = CliModel.command(c, "unload",
                "Unload the kernel loaded for kexec (kexec_file_load with KEXEC_FILE_UNLOAD),",
                "or with --crash the crash kernel. Nothing loaded is not an error.",
                "A boot prepared with 'boot --at-shutdown' is cancelled with it.",
                "Unloading does not undo TPM extends a committed boot made: the journal names them.");
        s.addOption(CliModel.option("--crash", boolean.class, () -> c.crash, v -> c.crash = v)
                .description("unload the crash kernel instead").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    private final Services services;

    UnloadCommand(Services services) {
        this.services = services;
    }

    @Override
    public Integer call() throws java.io.IOException {
        KexecFileLoader loader = services.kexec().get();
        Target target = crash ? Target.CRASH : Target.REBOOT;
        try {
            loader.unload(target);
        } catch (KexecException e) {
            throw KexecCliErrors.of(e);
        }
        KernelState s = loader.state();
        Boolean still = crash ? s.crashLoaded() : s.loaded();
        spec.commandLine().getOut().println((crash ? "crash kernel" : "kernel") + " unloaded"
                + (Boolean.TRUE.equals(still) ? " (the kernel still reports one loaded)" : ""));
        // a boot prepared with --at-shutdown is cancelled with its kernel: the hook must not commit it
        java.nio.file.Path pending = PendingBoot.DEFAULT_DIR.resolve(PendingBoot.FILE);
        if (!crash && java.nio.file.Files.deleteIfExists(pending)) {
            spec.commandLine().getOut().println("pending boot " + pending + " removed");
        }
        spec.commandLine().getOut().flush();
        return 0;
    }
}
