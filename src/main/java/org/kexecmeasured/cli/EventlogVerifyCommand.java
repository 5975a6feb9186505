package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.PcrSource;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.Verification;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.JournalRecovery;
import org.kexecmeasured.util.Hex;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code eventlog verify}: replays the log and compares it with expected PCR values. Exit 1 when a
 * PCR differs; each mismatch lists the records feeding that PCR.
 */
public final class EventlogVerifyCommand implements Runnable {
    final EventlogInput input = new EventlogInput();

    /** Where the expected values come from: exactly one source. */
    static final class Source {
        Path pcrsFile;
        String tcti;
    }

    Path journal;
    Source source;
    boolean json;
    CommandSpec spec;

    private final Services services;

    EventlogVerifyCommand(Services services) {
        this.services = services;
    }

    static CommandSpec model(Services services) {
        EventlogVerifyCommand c = new EventlogVerifyCommand(services);
        CommandSpec s = CliModel.command(c, "verify",
                "Replay the log and compare it with PCR values; exit 1 on any mismatch.",
                "PCR files: tpm2_pcrread / tpm2_eventlog YAML, or JSON {\"sha256\": {\"0\": \"hex\"}}; --tpm reads the live PCRs.",
                "--journal: which extends of an interrupted 'boot' reached the TPM, per PCR.");
        c.input.addTo(s);
        s.addOption(CliModel.option("--journal", Path.class, () -> c.journal, v -> c.journal = v).paramLabel("FILE")
                .description("a kexec-measured boot journal: name which journaled extends reached the TPM (explains a "
                        + "divergence after a crash)").build());
        s.addArgGroup(ArgGroupSpec.builder().exclusive(true).multiplicity("1")
                .addArg(CliModel.option("--pcrs", Path.class, () -> c.source == null ? null : c.source.pcrsFile,
                        v -> c.source().pcrsFile = v).paramLabel("FILE").required(true)
                        .description("expected PCR values (YAML or JSON)").build())
                .addArg(CliModel.option("--tpm", String.class, () -> c.source == null ? null : c.source.tcti,
                        v -> c.source().tcti = v).paramLabel("TCTI").required(true)
                        .description("read the live PCRs from this TPM").build())
                .build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON result").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    /** The group's values, made when one of its options is given. */
    private Source source() {
        if (source == null) source = new Source();
        return source;
    }

    /** The PCR source chosen on the command line. */
    PcrSource pcrSource() {
        if (source.tcti != null) {
            return new TpmPcrSource(source.tcti, services.tpm());
        }
        Path f = source.pcrsFile;
        return new PcrSource() {
            @Override
            public PcrSet read(List<org.kexecmeasured.util.HashAlg> banks, java.util.BitSet pcrs) {
                return PcrSet.parse(new String(EventlogInput.readBytes(f), StandardCharsets.UTF_8), f.toString());
            }

            @Override
            public String describe() {
                return "file " + f;
            }
        };
    }

    @Override
    public void run() {
        EventLogParser.Result r = input.read();
        EventLog log = r.log();
        PcrSource src = pcrSource();
        PcrSet expected = src.read(log.banks(), Replay.extendedPcrs(log));
        Verification.Result v = Verification.verify(log, expected);
        List<JournalRecovery.PcrResult> jr = null;
        if (journal != null) {
            Journal.Contents jc = Journal.load(journal);
            jr = JournalRecovery.analyse(jc, src.read(new ArrayList<>(jc.start().keySet()), new java.util.BitSet()).values());
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> m = toJson(v, src);
            if (jr != null) m.put("journal", JournalText.json(journal, jr));
            out.println(EventlogCommand.json(m));
        } else {
            for (Verification.Mismatch m : v.mismatches()) {
                out.printf("%s %s PCR %d: expected %s, log replays to %s%n", m.unverifiable() ? "UNVERIFIABLE" : "MISMATCH",
                        m.bank().tpmName, m.pcr(), Hex.of(m.expected()), Hex.of(m.replayed()));
                if (m.explanation() != null) out.println("  note: " + m.explanation());
                if (m.events().isEmpty()) out.println("  no record of the log extends this PCR");
                for (Event e : m.events()) {
                    out.printf("  #%-4d %-34s %s%n", e.index(), e.eventTypeName(), e.decoded().summary());
                }
            }
            for (String n : v.notes()) out.println("note: " + n);
            if (v.ok()) out.printf("ok: %d PCR value(s) from %s match the log%n", v.checked(), src.describe());
            if (jr != null) JournalText.print(out, journal, jr);
        }
        out.flush();
        input.failIfIncomplete(r);
        if (v.checked() == 0) {
            throw new CheckFailedException("nothing verified: " + src.describe() + " has no PCR of a bank the log carries");
        }
        boolean journalDiverged = jr != null && jr.stream().anyMatch(p -> !p.consistent());
        if (!v.mismatches().isEmpty() || journalDiverged) {
            throw new CheckFailedException(v.mismatches().size() + " PCR value(s) do not match (or cannot be verified by) the log"
                    + (journalDiverged ? "; the journal does not explain every PCR" : ""));
        }
    }

    private static Map<String, Object> toJson(Verification.Result v, PcrSource src) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", v.ok());
        m.put("source", src.describe());
        m.put("checked", v.checked());
        List<Object> l = new ArrayList<>();
        for (Verification.Mismatch x : v.mismatches()) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("bank", x.bank().tpmName);
            mm.put("pcr", x.pcr());
            mm.put("expected", Hex.of(x.expected()));
            mm.put("replayed", Hex.of(x.replayed()));
            if (x.explanation() != null) mm.put("explanation", x.explanation());
            if (x.unverifiable()) {
                mm.put("unverifiable", true);
                mm.put("recordsLackingDigest", x.lackingDigest().stream().map(Event::index).toList());
            }
            List<Integer> recs = new ArrayList<>();
            for (Event e : x.events()) recs.add(e.index());
            mm.put("records", recs);
            l.add(mm);
        }
        m.put("mismatches", l);
        m.put("skippedBanks", v.skippedBanks());
        return m;
    }
}
