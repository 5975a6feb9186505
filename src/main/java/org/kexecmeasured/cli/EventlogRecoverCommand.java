package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.JournalRecovery;
import org.kexecmeasured.boot.Measurement;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmException;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * {@code eventlog recover}: after an interrupted {@code boot}, decides from the journal and the live
 * PCRs which journaled extends reached the TPM; with {@code --complete} it extends the ones that did
 * not (journaling each, in the same file), so the TPM holds exactly the journaled sequence.
 */
@Command(name = "recover", mixinStandardHelpOptions = true,
        description = {"Explain an interrupted 'boot' from its journal and the live PCRs.",
                "--complete extends the journaled events that did not reach the TPM.",
                "Exit 1 when a PCR fits no replay of the journal."})
public final class EventlogRecoverCommand implements Runnable {

    @Option(names = "--journal", paramLabel = "FILE", required = true, description = "journal written by 'boot' (STATE/journal.jsonl)")
    Path journal;

    @Option(names = "--tpm", paramLabel = "TCTI", required = true, description = "the TPM the run extended")
    String tcti;

    @Option(names = "--complete", description = "extend the journaled events that did not reach the TPM (in journal order)")
    boolean complete;

    @Option(names = "--eventlog", paramLabel = "FILE",
            description = "with --complete: the log 'boot' left (STATE/eventlog.partial.bin); the completed extends are appended to it")
    Path eventlog;

    @Option(names = "--json", description = "JSON result")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        Journal.Contents jc = EventlogVerifyCommand.readJournal(journal);
        PrintWriter out = spec.commandLine().getOut();
        try (Tpm tpm = BootCommand.tpmOpener.apply(tcti)) {
            List<JournalRecovery.PcrResult> results = JournalRecovery.analyse(jc, read(tpm, jc));
            boolean diverged = results.stream().anyMatch(r -> !r.consistent());
            List<JournalRecovery.Verdict> pending = new ArrayList<>();
            for (JournalRecovery.PcrResult r : results) {
                for (JournalRecovery.Verdict v : r.verdicts()) {
                    if (v.outcome() == JournalRecovery.Outcome.NOT_REACHED
                            || v.outcome() == JournalRecovery.Outcome.REACHED_UNACKNOWLEDGED) {
                        pending.add(v);
                    }
                }
            }
            pending.sort((a, b) -> Long.compare(a.entry().seq(), b.entry().seq()));
            if (json) {
                Map<String, Object> m = JournalText.json(journal, results);
                m.put("completed", complete && !diverged);
                out.println(EventlogCommand.json(m));
            } else {
                JournalText.print(out, journal, results);
            }
            if (diverged) {
                out.flush();
                throw new CheckFailedException("the journal does not explain every PCR: nothing was extended; "
                        + "the TPM no longer matches any log this run could write");
            }
            if (eventlog != null && !complete) {
                throw new BadInputException("--eventlog is only used with --complete");
            }
            if (complete && !pending.isEmpty()) {
                org.kexecmeasured.eventlog.EventLog.Builder log = eventlog == null ? null
                        : org.kexecmeasured.eventlog.EventLog.parse(EventlogInput.readBytes(eventlog)).toBuilder();
                completeJournal(tpm, pending, out);
                if (log != null) appendToLog(log, pending, out);
            } else if (!json) {
                out.println(pending.stream().anyMatch(v -> v.outcome() == JournalRecovery.Outcome.NOT_REACHED)
                        ? "not completed: run with --complete to extend the events that did not reach the TPM"
                        : "nothing to complete");
            }
        } catch (TpmException e) {
            throw new BadInputException("TPM " + tcti + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new BadInputException(journal + ": " + e.getMessage(), e);
        }
        out.flush();
    }

    /** Closes unacknowledged-but-reached intents, and extends (intent → extend → done) the ones that did not reach. */
    private void completeJournal(Tpm tpm, List<JournalRecovery.Verdict> pending, PrintWriter out) throws IOException {
        try (Journal j = Journal.resume(journal)) {
            for (JournalRecovery.Verdict v : pending) {
                if (v.outcome() == JournalRecovery.Outcome.REACHED_UNACKNOWLEDGED) {
                    j.done(v.entry().seq());
                    out.println("  " + JournalText.describe(v.entry()) + " marked done (the PCR shows it)");
                    continue;
                }
                Measurement m = v.entry().measurement();
                Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
                for (HashAlg a : tpm.banks()) {
                    byte[] x = m.digests().get(a);
                    if (x == null) throw new BadInputException("journal entry #" + v.entry().seq() + " has no " + a.tpmName + " digest");
                    d.put(a, x);
                }
                long seq = j.intent(m);
                // the original intent is closed before the new extend is sent: whichever point a crash
                // hits, a later analysis sees at most one open intent for this event, never two
                j.failed(v.entry().seq(), "did not reach the TPM (found by recovery); extended again as #" + seq);
                tpm.extend(m.pcr(), d);
                j.done(seq);
                out.println("  " + JournalText.describe(v.entry()) + " extended now (journal #" + seq + ")");
            }
        }
        out.println("completed: the TPM now holds every journaled extend");
    }

    /**
     * The pending extends are the last of the run (it stops at the first failure), so appending them in
     * journal order keeps the log in TPM extend order.
     */
    private void appendToLog(org.kexecmeasured.eventlog.EventLog.Builder log, List<JournalRecovery.Verdict> pending,
                             PrintWriter out) throws IOException {
        org.kexecmeasured.eventlog.EventLog base = log.build();
        for (JournalRecovery.Verdict v : pending) {
            Measurement m = v.entry().measurement();
            Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
            for (HashAlg a : base.banks()) {
                byte[] x = m.digests().get(a);
                if (x == null) throw new BadInputException("journal entry #" + v.entry().seq() + " has no " + a.tpmName
                        + " digest for the log");
                d.put(a, x);
            }
            log.append(m.pcr(), m.eventType(), d, m.eventData());
        }
        Path tmp = eventlog.resolveSibling(eventlog.getFileName() + ".tmp");
        java.nio.file.Files.write(tmp, log.build().toBytes());
        java.nio.file.Files.move(tmp, eventlog, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        out.println("appended " + pending.size() + " record(s) to " + eventlog);
    }

    private static Map<HashAlg, Map<Integer, byte[]>> read(Tpm tpm, Journal.Contents jc) {
        List<HashAlg> sel = new ArrayList<>();
        for (HashAlg a : tpm.banks()) if (jc.start().containsKey(a)) sel.add(a);
        if (sel.isEmpty()) throw new BadInputException("the TPM has none of the journal's banks " + jc.start().keySet());
        return JournalRecovery.toMap(tpm.readPcrs(PcrSelection.of(sel, IntStream.range(0, Replay.PCR_COUNT).boxed().toList())));
    }
}
