package org.kexecmeasured.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import org.kexecmeasured.eventlog.Digest;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.LogFormat;
import org.kexecmeasured.eventlog.SpecIdEvent;
import org.kexecmeasured.eventlog.export.CelJson;
import org.kexecmeasured.eventlog.export.JsonView;
import org.kexecmeasured.eventlog.export.TpmEventlogYaml;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.BoundedFiles;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;

/** {@code eventlog show}: the records with decoded event data. */
public final class EventlogShowCommand implements Runnable {
    enum Format { text, yaml, json, cel, html }

    final EventlogInput input = new EventlogInput();
    Format format;
    final ExpectedPcrs expected;
    boolean json;
    CommandSpec spec;

    private EventlogShowCommand(Services services) {
        expected = new ExpectedPcrs(services);
    }

    static CommandSpec model(Services services) {
        EventlogShowCommand c = new EventlogShowCommand(services);
        CommandSpec s = CliModel.command(c, "show", "Print every record of an event log with its decoded event data.");
        s.usageMessage().footer("", BoundedFiles.HELP_LIMITS);
        c.input.addTo(s);
        s.addOption(CliModel.option("--format", Format.class, () -> c.format, v -> c.format = v).paramLabel("<format>").defaultValue("text")
                .description("text, yaml (like tpm2_eventlog), json, cel (TCG CEL-JSON), html (one self-contained page: "
                        + "a lane per PCR; with --tpm/--pcrs each PCR marked); default ${DEFAULT-VALUE}").build());
        c.expected.addTo(s);
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v)
                .description("same as --format json").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    @Override
    public void run() {
        if (expected.source != null && format != Format.html) {
            throw new org.kexecmeasured.util.BadInputException("--tpm and --pcrs go with --format html (to verify, use 'eventlog verify')");
        }
        EventLogParser.Result r = input.read();
        PrintWriter out = spec.commandLine().getOut();
        String err = r.error() == null ? null : r.error().getMessage();
        // written as they are built: the view of a log at the size limit would not fit a small heap whole
        switch (json ? Format.json : format) {
            case json -> writeJson(out, JsonView.log(r.log(), err));
            case cel -> writeJson(out, CelJson.records(r.log()));
            case yaml -> TpmEventlogYaml.render(r.log(), err, out);
            case html -> out.print(HtmlReport.eventlog(r.log(), String.valueOf(input.file), expected.pcrSource()));
            default -> text(out, r.log());
        }
        out.flush();
        input.failIfIncomplete(r);
    }

    /** Indented JSON straight to {@code out} (left open), then a newline. */
    static void writeJson(PrintWriter out, Object view) {
        try {
            JsonGenerator g = Json.MAPPER.getFactory().createGenerator(out).disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            Json.PRETTY.writeValue(g, view);
            g.flush();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        out.println();
    }

    /**
     * The text view. Built with StringBuilder rather than printf: a {@code %d} makes the JDK load its locale data
     * (~10 ms of a 0.25 s start-up budget) for digits that are ASCII here anyway.
     */
    static void text(PrintWriter out, EventLog log) {
        StringBuilder sb = new StringBuilder();
        sb.append("format: ").append(log.format() == LogFormat.SHA1_LEGACY ? "SHA-1 (TCG_PCR_EVENT)" : "crypto-agile (TCG_PCR_EVENT2)");
        sb.append(", ").append(log.events().size()).append(" records");
        SpecIdEvent s = log.specId();
        if (s != null) {
            sb.append(System.lineSeparator()).append("Spec ID: platformClass ").append(s.platformClass())
                    .append(", spec ").append(s.specVersionMajor()).append('.').append(s.specVersionMinor())
                    .append(" errata ").append(s.specErrata()).append(", uintnSize ").append(s.uintnSize()).append(", banks");
            for (SpecIdEvent.Algorithm a : s.algorithms()) sb.append(' ').append(a.name()).append('(').append(a.digestSize()).append(')');
            if (s.vendorInfo().length > 0) sb.append(", vendorInfo ").append(Hex.of(s.vendorInfo()));
        }
        out.println(sb);
        for (Event e : log.events()) {
            String pcr = e.pcrIndex() == 0xffffffffL ? "-1" : Long.toString(e.pcrIndex());
            sb.setLength(0);
            padded(padded(padded(sb.append('#'), Integer.toString(e.index()), 4).append(" PCR "), pcr, 2).append(' '),
                    e.eventTypeName(), 34).append(' ').append(e.decoded().summary());
            out.println(sb);
            for (Digest d : e.digestList()) {
                sb.setLength(0);
                padded(sb.append("        "), d.algName(), 7).append(' ').append(Hex.of(d.value()));
                out.println(sb);
            }
        }
    }

    /** {@code text} left-justified in {@code width} columns, as printf's {@code %-Ns}. */
    private static StringBuilder padded(StringBuilder sb, String text, int width) {
        sb.append(text);
        for (int i = text.length(); i < width; i++) sb.append(' ');
        return sb;
    }
}
