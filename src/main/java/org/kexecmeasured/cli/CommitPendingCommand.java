package org.kexecmeasured.cli;

import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.boot.PendingCommit;
import org.kexecmeasured.kexec.FileModeLoader;
import org.kexecmeasured.policy.PolicyAtCommit;
import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.kexec.KexecFileLoader.Target;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.util.Json;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code commit-pending}: the system-shutdown hook's command ({@link PendingCommit}): commits the boot
 * {@code boot --at-shutdown} prepared, after reading the PCRs and the OS's logs again, and loads the
 * kernel again with the committed sidecar. Does not start it: systemd-shutdown does, right after.
 */
public final class CommitPendingCommand implements Callable<Integer> {

    Path dir = PendingBoot.DEFAULT_DIR;
    String tcti;
    boolean json;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        CommitPendingCommand c = new CommitPendingCommand(services);
        CommandSpec s = CliModel.command(c, "commit-pending",
                "Commit the boot that 'boot --at-shutdown' prepared: read the PCRs and the",
                "OS's logs now, load the kernel again with the final sidecar, extend. Run by the",
                "system-shutdown hook right before the kexec reboot; a failure unloads the kernel.");
        CliModel.exitCodes(s, "0:committed; the kernel is loaded", "1:the running kernel rejected the image's signature; nothing was extended",
                "2:no or bad pending boot, unusable TPM, or the kernel refused the load; nothing was extended",
                "3:refused by the policy", "4:stopped after the TPM was changed; the kernel was unloaded again",
                "70:internal error");
        s.addPositional(CliModel.positional("DIR", Path.class, () -> c.dir, v -> c.dir = v).index("0").arity("0..1")
                .description("the pending boot (default: ${DEFAULT-VALUE})").build());
        s.addOption(CliModel.option("--tpm", String.class, () -> c.tcti, v -> c.tcti = v).paramLabel("TCTI")
                .description("TPM to extend (default: the one 'boot --at-shutdown' read, saved in pending.json)").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON result").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    private final Services services;

    CommitPendingCommand(Services services) {
        this.services = services;
    }

    @Override
    public Integer call() throws IOException {
        FileModeLoader loader = new FileModeLoader(services.kexec().get(), Target.REBOOT);
        MeasuredBoot.Result r;
        // the hook names no TPM: the commit extends the one the preparation read
        String tcti = this.tcti != null ? this.tcti : PendingBoot.read(dir).tctiOrDefault();
        try (Tpm tpm = services.tpm().open(tcti)) {
            // a boot prepared under a policy file is decided again under it, on the PCRs read now
            r = PendingCommit.run(dir, tpm, PolicyAtCommit.decider(dir, PendingBoot.read(dir), tpm), loader);
        } catch (KexecException e) {
            throw KexecCliErrors.of(e);
        } catch (TpmException e) {
            throw new IOException("TPM " + tcti + ": " + e.getMessage() + " (nothing was extended)", e);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.PRETTY.writeValueAsString(BootCommand.toJson(r, loader, null)));
        } else {
            BootCommand.printText(out, r);
        }
        out.flush();
        return 0;
    }
}
