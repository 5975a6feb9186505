package org.kexecmeasured.cli;

import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.JournalRecovery;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmException;
import org.kexecmeasured.util.BadInputException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code eventlog recover}: after an interrupted {@code boot}, decides from the journal and the live
 * PCRs which journaled extends reached the TPM; with {@code --complete} it extends the ones that did
 * not, through the same write path as a boot ({@link JournalRecovery#complete}), so the TPM holds
 * exactly the journaled sequence. This class parses options and prints.
 */
@Command(name = "recover", mixinStandardHelpOptions = true,
        description = {"Explain an interrupted 'boot' from its journal and the live PCRs.",
                "--complete extends the journaled events that did not reach the TPM."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every PCR is explained (and, with --complete, completed)",
                "1:a PCR fits no replay of the journal; nothing was extended",
                "2:bad input or unusable TPM; nothing was extended",
                "4:--complete stopped after it had extended something (run it again once the TPM answers)",
                "70:internal error"})
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

    private final Services services;

    EventlogRecoverCommand(Services services) {
        this.services = services;
    }

    @Override
    public void run() {
        if (eventlog != null && !complete) {
            throw new BadInputException("--eventlog is only used with --complete");
        }
        Journal.Contents jc = EventlogVerifyCommand.readJournal(journal);
        EventLog partial = complete && eventlog != null ? EventLog.parse(EventlogInput.readBytes(eventlog)) : null;
        PrintWriter out = spec.commandLine().getOut();
        // a TpmChangedException (exit 4) from the completion passes through to Main as it is
        try (Tpm tpm = services.tpm().open(tcti)) {
            List<JournalRecovery.PcrResult> results = JournalRecovery.analyse(jc, JournalRecovery.readPcrs(tpm, jc));
            boolean diverged = results.stream().anyMatch(r -> !r.consistent());
            List<JournalRecovery.Verdict> pending = JournalRecovery.pending(results);
            if (!json) JournalText.print(out, journal, results);
            List<JournalRecovery.Step> steps = List.of();
            if (!diverged && complete && !pending.isEmpty()) {
                out.flush();
                steps = JournalRecovery.complete(journal, tpm, pending, partial, eventlog);
            }
            if (json) {
                Map<String, Object> m = JournalText.json(journal, results);
                m.put("completed", complete && !diverged);
                m.put("completedSteps", steps.stream().map(x -> Map.of("seq", x.entry().seq(),
                        "found", x.found().name().toLowerCase(java.util.Locale.ROOT), "newSeq", x.newSeq())).toList());
                out.println(EventlogCommand.json(m));
            }
            if (diverged) {
                out.flush();
                throw new CheckFailedException("the journal does not explain every PCR: nothing was extended; "
                        + "the TPM no longer matches any log this run could write");
            }
            if (!json) printOutcome(out, steps, pending);
        } catch (TpmException e) {
            throw new BadInputException("TPM " + tcti + ": " + e.getMessage(), e);
        }
        out.flush();
    }

    private void printOutcome(PrintWriter out, List<JournalRecovery.Step> steps, List<JournalRecovery.Verdict> pending) {
        if (steps.isEmpty()) {
            out.println(pending.stream().anyMatch(v -> v.outcome() == JournalRecovery.Outcome.NOT_REACHED)
                    ? "not completed: run with --complete to extend the events that did not reach the TPM"
                    : "nothing to complete");
            return;
        }
        for (JournalRecovery.Step x : steps) {
            out.println("  " + JournalText.describe(x.entry()) + (x.newSeq() == 0
                    ? " marked done (the PCR shows it)" : " extended now (journal #" + x.newSeq() + ")"));
        }
        out.println("completed: the TPM now holds every journaled extend");
        if (eventlog != null) out.println("appended " + steps.size() + " record(s) to " + eventlog);
    }
}
