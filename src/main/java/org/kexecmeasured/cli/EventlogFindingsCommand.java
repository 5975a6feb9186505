package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.Finding;
import org.kexecmeasured.eventlog.Quirks;
import org.kexecmeasured.eventlog.export.JsonView;
import org.kexecmeasured.util.BoundedFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.List;

/** {@code eventlog findings}: named firmware quirks and inconsistencies. */
@Command(name = "findings", mixinStandardHelpOptions = true, footer = {"", BoundedFiles.HELP_LIMITS},
        description = "List named firmware quirks and inconsistencies found in the log (nothing is corrected).")
public final class EventlogFindingsCommand implements Runnable {
    @Mixin
    EventlogInput input;

    @Option(names = "--json", description = "JSON array of {id, severity, message, records}")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        EventLogParser.Result r = input.read();
        List<Finding> f = Quirks.find(r.log());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(EventlogCommand.json(JsonView.findings(f)));
        } else if (f.isEmpty()) {
            out.println("no findings");
        } else {
            for (Finding x : f) out.println(x);
        }
        out.flush();
        input.failIfIncomplete(r);
    }
}
