package org.kexecmeasured.cli;

import org.kexecmeasured.kexec.KernelState;
import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.KexecFileLoader.Target;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.util.concurrent.Callable;

/** {@code unload}: drop the kernel loaded for kexec (or, with {@code --crash}, the crash kernel). */
@Command(name = "unload", mixinStandardHelpOptions = true,
        description = {"Unload the kernel loaded for kexec (kexec_file_load with KEXEC_FILE_UNLOAD),",
                "or with --crash the crash kernel. Nothing loaded is not an error.",
                "Unloading does not undo TPM extends a committed boot made: the journal names them."})
public final class UnloadCommand implements Callable<Integer> {

    @Option(names = "--crash", description = "unload the crash kernel instead")
    boolean crash;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        KexecFileLoader loader = KexecFileLoader.system();
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
        spec.commandLine().getOut().flush();
        return 0;
    }
}
