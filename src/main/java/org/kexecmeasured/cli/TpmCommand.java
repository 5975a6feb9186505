package org.kexecmeasured.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kexec-measured tpm …}: look at a TPM (capabilities, PCRs). */
@Command(name = "tpm",
        mixinStandardHelpOptions = true,
        description = "Query a TPM: capabilities and PCR values.",
        subcommands = {TpmInfoCommand.class, TpmPcrsCommand.class})
public final class TpmCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a tpm subcommand is required (info, pcrs)");
    }

    /** The --tpm option shared by the subcommands. */
    static final class TctiOption {
        @CommandLine.Option(names = "--tpm", paramLabel = "TCTI",
                description = "TPM to use: device:/dev/tpmrm0, swtpm:host=H,port=P, swtpm:path=SOCK or mssim:host=H,port=P; "
                        + "optional timeout=MS on sockets. Default: $TPM2TOOLS_TCTI, else device:/dev/tpmrm0.")
        String tcti;
    }

    /** TPM failures become one-line errors (exit 2), never stack traces. */
    static java.io.IOException asIo(org.kexecmeasured.tpm.error.TpmException e) {
        return new java.io.IOException(e.getMessage(), e);
    }
}
