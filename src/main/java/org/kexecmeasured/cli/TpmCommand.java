package org.kexecmeasured.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** {@code kexec-measured tpm …}: look at a TPM (capabilities, PCRs). */
public final class TpmCommand implements Runnable {
    CommandSpec spec;

    /** This command's model with its subcommands (two: both are built). */
    static CommandSpec model(Services services) {
        TpmCommand c = new TpmCommand();
        CommandSpec s = CliModel.command(c, "tpm", "Query a TPM: capabilities and PCR values.");
        c.spec = CliModel.withStandardHelp(s);
        s.addSubcommand("info", TpmInfoCommand.model(services));
        s.addSubcommand("pcrs", TpmPcrsCommand.model(services));
        return s;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a tpm subcommand is required (info, pcrs)");
    }

    /** The --tpm option shared by the subcommands. */
    static final class TctiOption {
        String tcti;

        /** Adds --tpm to {@code command} (as the mixin "tpmOption"). */
        void addTo(CommandSpec command) {
            CommandSpec m = CliModel.mixin();
            m.addOption(CliModel.option("--tpm", String.class, () -> tcti, v -> tcti = v).paramLabel("TCTI")
                    .description("TPM to use: device:/dev/tpmrm0, swtpm:host=H,port=P, swtpm:path=SOCK or mssim:host=H,port=P; "
                            + "optional timeout=MS on sockets. Default: $TPM2TOOLS_TCTI, else device:/dev/tpmrm0.").build());
            command.addMixin("tpmOption", m);
        }
    }

    /** TPM failures become one-line errors (exit 2), never stack traces. */
    static java.io.IOException asIo(org.kexecmeasured.tpm.error.TpmException e) {
        return new java.io.IOException(e.getMessage(), e);
    }
}
