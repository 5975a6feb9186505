package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventType;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.JournalRecovery;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Text and JSON views of a journal analysis (shared by {@code eventlog verify --journal} and {@code eventlog recover}). */
final class JournalText {
    private JournalText() {
    }

    static String outcome(JournalRecovery.Outcome o) {
        return switch (o) {
            case REACHED -> "reached the TPM (acknowledged)";
            case REACHED_UNACKNOWLEDGED -> "reached the TPM (not acknowledged: the PCR shows it)";
            case NOT_REACHED -> "did NOT reach the TPM (intent only; the PCR shows it was not extended)";
            case REFUSED -> "refused by the TPM (not extended)";
            case DIVERGED -> "UNKNOWN: the PCR fits no replay of the journal";
        };
    }

    static String describe(Journal.Entry e) {
        int t = e.measurement().eventType();
        String type = EventType.isKnown(t) ? EventType.name(t) : String.format("0x%x", t);
        return String.format("#%-3d PCR %-2d %-32s", e.seq(), e.measurement().pcr(), type);
    }

    static void print(PrintWriter o, java.nio.file.Path file, List<JournalRecovery.PcrResult> results) {
        o.println("journal " + file + ":");
        List<JournalRecovery.Verdict> all = new ArrayList<>();
        for (JournalRecovery.PcrResult r : results) {
            o.println("  " + (r.consistent() ? "" : "DIVERGED: ") + r.explanation());
            all.addAll(r.verdicts());
        }
        all.sort((a, b) -> Long.compare(a.entry().seq(), b.entry().seq()));
        for (JournalRecovery.Verdict v : all) {
            o.println("  " + describe(v.entry()) + " " + outcome(v.outcome())
                    + (v.entry().failure() != null ? " (" + v.entry().failure() + ")" : ""));
        }
        long reached = all.stream().filter(v -> v.outcome() == JournalRecovery.Outcome.REACHED
                || v.outcome() == JournalRecovery.Outcome.REACHED_UNACKNOWLEDGED).count();
        o.printf("  %d of %d journaled extend(s) reached the TPM%n", reached, all.size());
    }

    static Map<String, Object> json(java.nio.file.Path file, List<JournalRecovery.PcrResult> results) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("journal", file.toString());
        List<Object> pcrs = new ArrayList<>();
        List<Object> entries = new ArrayList<>();
        for (JournalRecovery.PcrResult r : results) {
            pcrs.add(Map.of("pcr", r.pcr(), "consistent", r.consistent(), "explanation", r.explanation()));
            for (JournalRecovery.Verdict v : r.verdicts()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("seq", v.entry().seq());
                e.put("pcr", v.entry().measurement().pcr());
                e.put("eventType", v.entry().measurement().eventType() & 0xffffffffL);
                e.put("outcome", v.outcome().name().toLowerCase(java.util.Locale.ROOT));
                entries.add(e);
            }
        }
        entries.sort((a, b) -> Long.compare((Long) ((Map<?, ?>) a).get("seq"), (Long) ((Map<?, ?>) b).get("seq")));
        m.put("pcrs", pcrs);
        m.put("entries", entries);
        return m;
    }
}
