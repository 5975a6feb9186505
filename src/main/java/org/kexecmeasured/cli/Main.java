package org.kexecmeasured.cli;

import org.kexecmeasured.boot.RefusedException;
import org.kexecmeasured.boot.TpmChangedException;
import org.kexecmeasured.util.BadInputException;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * Entry point. Subcommands follow the pipeline: inspect (payload), eventlog, tpm, emulate (uefi),
 * predict/boot (policy, boot, kexec).
 *
 * <p>Exit codes (the one table; README and man pages repeat it): 0 success; 1 a requested check
 * failed (a signature, a PCR, a verdict did not match); 2 bad input or usage, nothing changed (one
 * line on stderr, never a stack trace); 3 refused by policy, nothing changed; 4 the run stopped
 * after it had changed the TPM (some extends happened: the journal names them); 70 internal error
 * (also a JVM Error such as running out of memory, on one line).
 */
@Command(name = "kexec-measured",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "TPM-aware, measured-boot kexec: inspect, emulate and measure UEFI payloads.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:a requested check failed (signature, PCR, verdict)",
                "2:bad input or usage; nothing changed", "3:refused by policy; nothing changed",
                "4:stopped after the TPM was changed (some extends happened; the message names the journal)",
                "70:internal error"},
        subcommands = {
                AutoComplete.GenerateCompletion.class,
                picocli.codegen.docgen.manpage.ManPageGenerator.class,
                InspectCommand.class,
                EventlogCommand.class,
                TpmCommand.class,
                EmulateCommand.class,
                BootCommand.class,
                CommitPendingCommand.class,
                ExecCommand.class,
                UnloadCommand.class,
        })
public final class Main implements Runnable {

    public static final int EXIT_CHECK_FAILED = 1;
    public static final int EXIT_BAD_INPUT = 2;
    public static final int EXIT_POLICY_DENIED = 3;
    public static final int EXIT_TPM_CHANGED = 4;
    public static final int EXIT_INTERNAL = 70;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams; used by tests in-process. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return execute(args, out, err, Services.DEFAULT);
    }

    /** As {@link #execute(String[], PrintWriter, PrintWriter)}, with the services commands get (tests wrap the TPM). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err, Services services) {
        CommandLine cl = commandLine(services);
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    public static CommandLine commandLine() {
        return commandLine(Services.DEFAULT);
    }

    public static CommandLine commandLine(Services services) {
        CommandLine cl = new CommandLine(new Main(), services.factory());
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(true);
        cl.getSubcommands().get("gen-manpage").getCommandSpec().usageMessage().hidden(true);
        cl.setExecutionExceptionHandler(Main::handleException);
        cl.setParameterExceptionHandler((ex, args) -> {
            ex.getCommandLine().getErr().println("kexec-measured: " + ex.getMessage());
            ex.getCommandLine().getErr().println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help' for more information.");
            return EXIT_BAD_INPUT;
        });
        return cl;
    }

    private static int handleException(Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
        PrintWriter err = cl.getErr();
        if (ex instanceof TpmChangedException) {
            err.println("kexec-measured: error: " + oneLine(ex.getMessage()));
            return EXIT_TPM_CHANGED;
        }
        if (ex instanceof RefusedException) {
            err.println("kexec-measured: " + oneLine(ex.getMessage()));
            return EXIT_POLICY_DENIED;
        }
        if (ex instanceof BadInputException || ex instanceof java.io.IOException) {
            err.println("kexec-measured: error: " + oneLine(ex.getMessage()));
            return EXIT_BAD_INPUT;
        }
        if (ex instanceof CheckFailedException) {
            err.println("kexec-measured: " + oneLine(ex.getMessage()));
            return EXIT_CHECK_FAILED;
        }
        err.println("kexec-measured: internal error: " + ex);
        if (System.getenv("KEXEC_MEASURED_DEBUG") != null) {
            ex.printStackTrace(err);
        } else {
            err.println("(set KEXEC_MEASURED_DEBUG=1 for a stack trace)");
        }
        return EXIT_INTERNAL;
    }

    static String oneLine(String s) {
        if (s == null) return "(no message)";
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /** Version from the jar manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{"kexec-measured " + version()};
        }
    }

    public static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.1.0-dev";
    }
}
