package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.export.JsonView;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.BoundedFiles;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;

/** {@code eventlog replay}: PCR values the log predicts, per bank, in tpm2_pcrread's layout. */
public final class EventlogReplayCommand implements Runnable {
    final EventlogInput input = new EventlogInput();
    List<String> banks;
    boolean all;
    boolean json;
    CommandSpec spec;

    static CommandSpec model() {
        EventlogReplayCommand c = new EventlogReplayCommand();
        CommandSpec s = CliModel.command(c, "replay",
                "Replay the log into PCR values per bank (EV_NO_ACTION never extended; StartupLocality honoured).",
                "Output has tpm2_pcrread's layout, which `eventlog verify --pcrs` reads back.");
        s.usageMessage().footer("", BoundedFiles.HELP_LIMITS);
        c.input.addTo(s);
        s.addOption(CliModel.option("--bank", List.class, () -> c.banks, v -> c.banks = v).auxiliaryTypes(String.class)
                .splitRegex(",").paramLabel("ALG").description("banks to print (default: all banks of the log)").build());
        s.addOption(CliModel.option("--all", boolean.class, () -> c.all, v -> c.all = v)
                .description("print all 24 PCRs, not only those the log extends").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v)
                .description("JSON {\"sha256\": {\"0\": \"hex\", …}}").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    @Override
    public void run() {
        EventLogParser.Result r = input.read();
        EventLog log = r.log();
        List<HashAlg> sel = log.banks();
        if (banks != null) {
            sel = new ArrayList<>();
            for (String b : banks) {
                HashAlg a = HashAlg.fromName(b);
                if (!log.banks().contains(a)) {
                    throw new BadInputException("the log has no " + a.tpmName + " bank (it has " + names(log.banks()) + ")");
                }
                sel.add(a);
            }
        }
        Map<HashAlg, byte[][]> pcrs = Replay.replay(log, sel);
        BitSet only = all ? null : Replay.extendedPcrs(log);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(EventlogCommand.json(JsonView.replay(pcrs, only)));
        } else {
            StringBuilder sb = new StringBuilder();
            pcrs.forEach((bank, v) -> {
                sb.append(bank.tpmName).append(":\n");
                for (int i = 0; i < v.length; i++) {
                    if (only == null || only.get(i)) sb.append(String.format("  %-2d: 0x%s%n", i, Hex.of(v[i]).toUpperCase()));
                }
            });
            out.print(sb);
        }
        out.flush();
        input.failIfIncomplete(r);
    }

    static String names(List<HashAlg> l) {
        List<String> s = new ArrayList<>();
        for (HashAlg a : l) s.add(a.tpmName);
        return s.isEmpty() ? "none" : String.join(", ", s);
    }
}
