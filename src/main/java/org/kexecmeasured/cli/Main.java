package org.kexecmeasured.cli;

import org.kexecmeasured.boot.RefusedException;
import org.kexecmeasured.boot.TpmChangedException;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.util.BadInputException;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.List;

/**
 * Entry point. Subcommands follow the pipeline: inspect (payload), eventlog, tpm, emulate (uefi),
 * predict/boot (policy, boot, kexec).
 *
 * <p>Exit codes (the one table; README and man pages repeat it): 0 success; 1 a requested check
 * failed (a signature, a PCR, a verdict did not match); 2 bad input or usage, nothing changed (one
 * line on stderr, never a stack trace); 3 refused by policy, nothing changed; 4 the run stopped
 * after it had changed the TPM (some extends happened: the journal names them); 70 internal error
 * (also a JVM Error such as running out of memory, on one line).
 *
 * <p>The command model is built through picocli's programmatic API ({@link #model()}, each command's own
 * {@code model(…)}; {@link CliModel} says why). {@link #SUBCOMMANDS} lists the subcommands and a run registers only
 * those it can reach (start-up: {@code --version} builds no subcommand model).
 */
public final class Main implements Runnable {

    public static final int EXIT_CHECK_FAILED = 1;
    public static final int EXIT_BAD_INPUT = 2;
    public static final int EXIT_POLICY_DENIED = 3;
    public static final int EXIT_TPM_CHANGED = 4;
    public static final int EXIT_INTERNAL = 70;

    CommandSpec spec;

    /** picocli's built-in converters {@link #main} leaves out (regular expressions of type names): no option needs them. */
    static final String PICOCLI_CONVERTERS_EXCLUDED = "java\\.sql\\..*,java\\.time\\..*";

    /** The root command's model, without subcommands. */
    static CommandSpec model() {
        Main m = new Main();
        CommandSpec s = CliModel.command(m, "kexec-measured",
                "TPM-aware, measured-boot kexec: inspect, emulate and measure UEFI payloads.");
        s.versionProvider(new Version());
        CliModel.exitCodes(s, "0:success", "1:a requested check failed (signature, PCR, verdict)",
                "2:bad input or usage; nothing changed", "3:refused by policy; nothing changed",
                "4:stopped after the TPM was changed (some extends happened; the message names the journal)",
                "70:internal error");
        m.spec = s;
        return CliModel.withStandardHelp(s);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    public static void main(String[] args) {
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            // start-up: the version line needs no command model, so not one picocli class is loaded for it
            System.out.println(versionLine());
            System.exit(0);
        }
        // start-up: picocli's default factory looks for Groovy's Closure class once (for closures in annotations, which
        // no command here has); that one failing class lookup opens and indexes the jar, ~20-30 ms that nothing else
        // on a command's path needs (every class comes from the CDS archive)
        System.setProperty("picocli.disable.closures", "true");
        // start-up: picocli's parser registers its built-in converters for java.sql's and java.time's types by
        // reflection (loading and initializing ~80 JDK classes: JDBC's DriverManager, DateTimeFormatter and its
        // calendar fields) before it parses; no option here takes one of those types without its own converter
        // (the durations have DurationConverter: MainTest checks every option), so they are left out
        System.setProperty("picocli.converters.excludes", PICOCLI_CONVERTERS_EXCLUDED);
        // start-up: JNA's NativeLibrary, when first used, runs `/sbin/ldconfig -p` (through jspawnhelper and a process
        // reaper thread) to add ld.so.conf's directories to its search path, unless this property names the path
        System.setProperty("jna.platform.library.path", jnaPlatformLibraryPath());
        // the commands that run a payload load TSS.Java, JNA, libcrypto, Unicorn (and predict Jackson's databind) on a
        // second core while picocli builds the command's model and the command reads its payload
        if (args.length > 0 && (args[0].equals("boot") || args[0].equals("predict"))) Warmup.start(args[0].equals("predict"));
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /**
     * JNA's own platform search path without the part it asks {@code ldconfig -p} for: the multiarch directories
     * (x86_64-linux-gnu, aarch64-linux-gnu), the 64-bit ones, /usr/lib and /lib, and /usr/local/lib (Debian's
     * ld.so.conf.d/libc.conf). A library outside these is still found by its soname: JNA then hands the bare name to
     * dlopen, which asks the dynamic linker's cache. A path given with -Djna.platform.library.path is kept.
     */
    static String jnaPlatformLibraryPath() {
        String given = System.getProperty("jna.platform.library.path");
        if (given != null) return given;
        String arch = System.getProperty("os.arch", "");
        String cpu = arch.equals("amd64") ? "x86_64" : arch;
        String multiarch = cpu + "-linux-gnu";
        boolean is64 = "64".equals(System.getProperty("sun.arch.data.model"));
        return "/usr/lib/" + multiarch + ":/lib/" + multiarch + (is64 ? ":/usr/lib64:/lib64" : ":/usr/lib32:/lib32")
                + ":/usr/lib:/lib:/usr/local/lib";
    }

    /** Runs the CLI with the given streams; used by tests in-process. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return execute(args, out, err, Services.DEFAULT);
    }

    /** As {@link #execute(String[], PrintWriter, PrintWriter)}, with the services commands get (tests wrap the TPM). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err, Services services) {
        // the TPMs the command opens, so that an Error can be told apart from one after a PCR was extended
        OpenedTpms tpms = new OpenedTpms(services.tpm());
        CommandLine cl = commandLine(services.withTpm(tpms), args);
        cl.setOut(out);
        cl.setErr(err);
        // the same fault raised in a worker thread (the hashing of a bank group, the inspector's workers) reaches
        // the command wrapped in an Exception (CompletionException, ExecutionException): the same answer
        CommandLine.IExecutionExceptionHandler handler = cl.getExecutionExceptionHandler();
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            Error fault = truncatedMappingFault(ex);
            return fault != null ? journaled(handleError(fault, c, args, tpms), ex, c) : handler.handleExecutionException(ex, c, parsed);
        });
        try {
            return cl.execute(args);
        } catch (Error e) {
            // picocli hands only Exceptions to handleException; an Error unwinds through execute
            return handleError(e, cl, args, tpms);
        }
    }

    public static CommandLine commandLine() {
        return commandLine(Services.DEFAULT);
    }

    /**
     * The subcommands in help order. A new subcommand goes here and into {@link #subcommand}; a command's model is
     * built only when it is registered, so a run registers only what it can reach (see
     * {@link #commandLine(Services, String[])}).
     */
    static final List<String> SUBCOMMANDS = List.of("generate-completion", "gen-manpage", "inspect", "eventlog", "tpm",
            "emulate", "predict", "boot", "commit-pending", "exec", "unload", "report");

    /**
     * A subcommand's model (picocli's own generators: their annotated class); a switch, so that only the chosen
     * command's class is loaded. Null for a name that is none.
     */
    static Object subcommand(String name, Services services) {
        return switch (name) {
            case "generate-completion" -> AutoComplete.GenerateCompletion.class;
            case "gen-manpage" -> picocli.codegen.docgen.manpage.ManPageGenerator.class;
            case "inspect" -> InspectCommand.model();
            case "eventlog" -> EventlogCommand.model();
            case "tpm" -> TpmCommand.model(services);
            case "emulate" -> EmulateCommand.model();
            case "predict" -> PredictCommand.model(services);
            case "boot" -> BootCommand.model(services);
            case "commit-pending" -> CommitPendingCommand.model(services);
            case "exec" -> ExecCommand.model(services);
            case "unload" -> UnloadCommand.model(services);
            case "report" -> ReportCommand.model(services);
            default -> null;
        };
    }

    /** Whether {@code name} is a subcommand (nothing is built or loaded for the answer). */
    static boolean isSubcommand(String name) {
        return SUBCOMMANDS.contains(name);
    }

    /** The full command line with every subcommand (help, completion script, man pages, tests). */
    public static CommandLine commandLine(Services services) {
        return commandLine(services, SUBCOMMANDS);
    }

    /**
     * The command line a run with {@code args} needs: none for {@code --version}, only the named
     * subcommand when {@code args[0]} is one, else all of them (help, usage errors, the completion
     * script and the man pages).
     */
    static CommandLine commandLine(Services services, String[] args) {
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            return commandLine(services, List.of());
        }
        // the completion script and the man pages describe the whole tree
        boolean wholeTree = args.length > 0 && (args[0].equals("generate-completion") || args[0].equals("gen-manpage"));
        if (args.length > 0 && isSubcommand(args[0]) && !wholeTree) {
            // eventlog's own subcommands likewise: only the named one
            boolean oneEventlog = args[0].equals("eventlog") && args.length > 1
                    && EventlogCommand.SUBCOMMANDS.contains(args[1]);
            return commandLine(services, List.of(args[0]), oneEventlog ? List.of(args[1]) : EventlogCommand.SUBCOMMANDS);
        }
        return commandLine(services, SUBCOMMANDS);
    }

    private static CommandLine commandLine(Services services, List<String> subcommands) {
        return commandLine(services, subcommands, EventlogCommand.SUBCOMMANDS);
    }

    private static CommandLine commandLine(Services services, List<String> subcommands, List<String> eventlogSubcommands) {
        CommandLine cl = new CommandLine(model());
        for (String name : subcommands) {
            cl.addSubcommand(name, subcommand(name, services));
        }
        CommandLine eventlog = cl.getSubcommands().get("eventlog");
        if (eventlog != null) {
            for (String name : eventlogSubcommands) eventlog.addSubcommand(name, EventlogCommand.subcommand(name, services));
        }
        for (String hidden : new String[]{"generate-completion", "gen-manpage"}) {
            if (cl.getSubcommands().containsKey(hidden)) {
                cl.getSubcommands().get(hidden).getCommandSpec().usageMessage().hidden(true);
            }
        }
        cl.setExecutionExceptionHandler((ex, c, parsed) -> journaled(handleException(ex, c, parsed), ex, c));
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

    /** A failed command is also an error entry in the journal when kexec-measured runs as a service ({@link JournalLog}). */
    private static int journaled(int rc, Exception ex, CommandLine cl) {
        JournalLog.fromEnvironment(System.getenv(), cl.getErr()).failed(cl.getCommandSpec().qualifiedName(), oneLine(ex.getMessage()), rc);
        return rc;
    }

    /**
     * A JVM Error that escaped a command (out of memory, stack overflow): one line and exit 70, never
     * a stack trace or exit 1. The command's large objects are unreachable by now, so printing works.
     *
     * <p>But a read of the mapped payload after someone truncated it ({@link PayloadFile#isTruncatedMappingFault})
     * is bad input, exit 2 — only while no TPM the command opened was sent a PCR-changing command
     * ({@link OpenedTpms#pcrChangeSent}): exit 2 says nothing changed, so after an extend it stays exit 70 and never
     * stands for an exit 4. (The boot reads the payload only before its commit, whose first step is the last lease
     * check; the count makes that a fact here, not an assumption.)
     */
    static int handleError(Error e, CommandLine cl, String[] args, OpenedTpms tpms) {
        PrintWriter err = cl.getErr();
        String what = commandName(cl, args);
        if (PayloadFile.isTruncatedMappingFault(e) && !tpms.pcrChangeSent()) {
            err.println("kexec-measured: error: " + PayloadFile.CHANGED_WHILE_READ);
            if (System.getenv("KEXEC_MEASURED_DEBUG") != null) e.printStackTrace(err);
            err.flush();
            return EXIT_BAD_INPUT;
        }
        if (e instanceof OutOfMemoryError) {
            err.println("kexec-measured: internal error: out of memory while running '" + what + "' (maximum heap "
                    + (Runtime.getRuntime().maxMemory() >> 20) + " MiB) — raise -Xmx via KEXEC_MEASURED_JAVA_OPTS, e.g. "
                    + "KEXEC_MEASURED_JAVA_OPTS=-Xmx2g");
        } else if (e instanceof StackOverflowError) {
            err.println("kexec-measured: internal error: stack overflow while running '" + what
                    + "' — raise -Xss via KEXEC_MEASURED_JAVA_OPTS, e.g. KEXEC_MEASURED_JAVA_OPTS=-Xss16m");
        } else {
            err.println("kexec-measured: internal error: " + oneLine(String.valueOf(e)) + " while running '" + what + "'");
        }
        if (System.getenv("KEXEC_MEASURED_DEBUG") != null) e.printStackTrace(err);
        err.flush();
        return EXIT_INTERNAL;
    }

    /** The truncated-mapping fault {@code ex} wraps (its causes, a few levels down), or null. */
    static Error truncatedMappingFault(Throwable ex) {
        Throwable t = ex.getCause();
        for (int depth = 0; t != null && depth < 8; depth++, t = t.getCause()) {
            if (PayloadFile.isTruncatedMappingFault(t)) return (Error) t;
        }
        return null;
    }

    /** "eventlog replay": the subcommand words of the command line, without options or files. */
    private static String commandName(CommandLine cl, String[] args) {
        StringBuilder sb = new StringBuilder();
        CommandLine cur = cl;
        for (String a : args) {
            CommandLine sub = cur.getSubcommands().get(a);
            if (sub == null) break;
            if (sb.length() > 0) sb.append(' ');
            sb.append(a);
            cur = sub;
        }
        return sb.length() == 0 ? "kexec-measured" : sb.toString();
    }

    static String oneLine(String s) {
        if (s == null) return "(no message)";
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /** Version from the jar manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{versionLine()};
        }
    }

    /** What {@code --version} prints (here, not in {@link Version}: that class loads picocli's interface). */
    static String versionLine() {
        return "kexec-measured " + version();
    }

    public static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.1.0-dev";
    }
}
