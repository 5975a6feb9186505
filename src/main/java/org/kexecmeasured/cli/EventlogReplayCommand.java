package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.export.JsonView;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.BoundedFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;

/** {@code eventlog replay}: PCR values the log predicts, per bank, in tpm2_pcrread's layout. */
@Command(name = "replay", mixinStandardHelpOptions = true, footer = {"", BoundedFiles.HELP_LIMITS},
        description = {"Replay the log into PCR values per bank (EV_NO_ACTION never extended; StartupLocality honoured).",
                "Output has tpm2_pcrread's layout, which `eventlog verify --pcrs` reads back."})
public final class EventlogReplayCommand implements Runnable {
    @Mixin
    EventlogInput input;

    @Option(names = "--bank", split = ",", paramLabel = "ALG", description = "banks to print (default: all banks of the log)")
    List<String> banks;

    @Option(names = "--all", description = "print all 24 PCRs, not only those the log extends")
    boolean all;

    @Option(names = "--json", description = "JSON {\"sha256\": {\"0\": \"hex\", …}}")
    boolean json;

    @Spec
    CommandSpec spec;

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
