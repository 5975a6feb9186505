package org.kexecmeasured.cli;

import org.kexecmeasured.boot.UncommittedHandOver;
import org.kexecmeasured.eventlog.CurrentLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.util.BadInputException;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Files;
import java.nio.file.Path;

/** The log file argument and {@code --lenient}, shared by the eventlog subcommands. */
public final class EventlogInput {
    public static final String DEFAULT_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements";

    Path file;
    boolean lenient;
    /** The command these options were added to (where the chosen log is said). */
    CommandSpec mixee;

    /** Adds FILE and --lenient to {@code command} (as the mixin "input"). */
    void addTo(CommandSpec command) {
        CommandSpec m = CliModel.mixin();
        m.addPositional(CliModel.positional("FILE", Path.class, () -> file, v -> file = v).index("0").arity("0..1")
                .description("binary event log, - for standard input (default: " + CurrentLog.CONTINUED
                        + " when a measured kexec left it, else " + DEFAULT_LOG + "; which one is said on stderr)").build());
        m.addOption(CliModel.option("--lenient", boolean.class, () -> lenient, v -> lenient = v)
                .description("on a parse error, still use the records read before it (exit code stays 2)").build());
        command.addMixin("input", m);
        mixee = command;
    }

    /** The parsed log; in lenient mode with the error kept in the result. */
    EventLogParser.Result read() {
        if (file == null) {
            CurrentLog.Choice c = CurrentLog.choose();
            file = c.path();
            if (mixee != null) {
                mixee.commandLine().getErr().println("kexec-measured: " + c.note());
                // an uncommitted sidecar beside the continued log: say what kind of boot that log describes
                if (c.continued()) {
                    UncommittedHandOver.describe(file.getParent())
                            .ifPresent(d -> mixee.commandLine().getErr().println("kexec-measured: " + d));
                }
                mixee.commandLine().getErr().flush();
            }
        }
        byte[] b = readBytes(file);
        EventLogParser.Result r = EventLogParser.parseLenient(b);
        if (r.error() != null && !lenient) {
            throw new BadInputException(file + ": " + r.error().getMessage());
        }
        return r;
    }

    /** Fails with exit code 2 after lenient output was written. */
    void failIfIncomplete(EventLogParser.Result r) {
        if (r.error() != null) {
            throw new BadInputException(file + ": " + r.error().getMessage() + " (" + r.log().events().size()
                    + " records read before the error)");
        }
    }

    /** The file's bytes through {@link EventLogParser#readFile} (capped; zero-filled devices refused at record 0). */
    static byte[] readBytes(Path p) {
        if (p.toString().equals(DEFAULT_LOG) && Files.exists(p) && !Files.isReadable(p)) {
            throw new BadInputException(p + ": permission denied (the firmware log needs root)");
        }
        return EventLogParser.readFile(p);
    }
}
