package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.Finding;
import org.kexecmeasured.eventlog.Quirks;
import org.kexecmeasured.eventlog.export.JsonView;
import org.kexecmeasured.util.BoundedFiles;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.List;

/** {@code eventlog findings}: named firmware quirks and inconsistencies. */
public final class EventlogFindingsCommand implements Runnable {
    final EventlogInput input = new EventlogInput();
    boolean json;
    CommandSpec spec;

    static CommandSpec model() {
        EventlogFindingsCommand c = new EventlogFindingsCommand();
        CommandSpec s = CliModel.command(c, "findings",
                "List named firmware quirks and inconsistencies found in the log (nothing is corrected).");
        s.usageMessage().footer("", BoundedFiles.HELP_LIMITS);
        c.input.addTo(s);
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v)
                .description("JSON array of {id, severity, message, records}").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

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
