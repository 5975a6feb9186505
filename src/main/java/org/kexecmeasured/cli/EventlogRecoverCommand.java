package org.kexecmeasured.cli;

import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.JournalRecovery;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.util.BadInputException;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code eventlog recover}: after an interrupted {@code boot}, decides from the journal and the live
 * PCRs which journaled extends reached the TPM; with {@code --complete} it extends the ones that did
 * not, through the same write path as a boot, rebuilds the whole continued log from the journal and
 * the firmware log's copy beside it, and marks the journal finished ({@link JournalRecovery#recover}).
 * This class parses options and prints.
 */
public final class EventlogRecoverCommand implements Runnable {

    Path journal;
    String tcti;
    boolean complete;
    Path eventlog;
    java.time.Duration lockWait;
    boolean json;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        EventlogRecoverCommand c = new EventlogRecoverCommand(services);
        CommandSpec s = CliModel.command(c, "recover",
                "Explain an interrupted 'boot' from its journal and the live PCRs.",
                "--complete extends the journaled events that did not reach the TPM, rebuilds the",
                "whole continued log (firmware log + every journaled record) and marks the journal",
                "finished, so the next 'boot' with this state directory archives it and goes on.");
        CliModel.exitCodes(s, "0:every PCR is explained (and, with --complete, completed and the log rebuilt)",
                "1:a PCR fits no replay of the journal; nothing was extended",
                "2:bad input (a damaged journal: the line is named), unusable TPM, or another run holds the "
                        + "state directory or the TPM; nothing was extended",
                "4:--complete stopped after it had extended something (run it again once the TPM answers)",
                "70:internal error");
        s.addOption(CliModel.option("--journal", Path.class, () -> c.journal, v -> c.journal = v).paramLabel("FILE")
                .required(true).description("journal written by 'boot' (STATE/journal.jsonl)").build());
        s.addOption(CliModel.option("--tpm", String.class, () -> c.tcti, v -> c.tcti = v).paramLabel("TCTI")
                .required(true).description("the TPM the run extended").build());
        s.addOption(CliModel.option("--complete", boolean.class, () -> c.complete, v -> c.complete = v)
                .description("extend the journaled events that did not reach the TPM (in journal order), "
                        + "rebuild the whole log and mark the journal finished").build());
        s.addOption(CliModel.option("--eventlog", Path.class, () -> c.eventlog, v -> c.eventlog = v).paramLabel("FILE")
                .description("with --complete: where to write the rebuilt log (default: where the boot meant to write it)").build());
        s.addOption(CliModel.option("--lock-wait", java.time.Duration.class, () -> c.lockWait, v -> c.lockWait = v)
                .paramLabel("DURATION").defaultValue("0s").converters(new DurationConverter())
                .description("with --complete: how long to wait for another run holding the state directory or the TPM "
                        + "(default: ${DEFAULT-VALUE})").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON result").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    private final Services services;

    EventlogRecoverCommand(Services services) {
        this.services = services;
    }

    @Override
    public void run() {
        if (eventlog != null && !complete) {
            throw new BadInputException("--eventlog is only used with --complete");
        }
        try {
            Journal.load(journal); // a damaged or missing journal is named before the TPM is opened
        } catch (Journal.UnstartedException e) {
            if (!complete) throw new BadInputException(e.getMessage() + "; --complete removes it");
        }
        PrintWriter out = spec.commandLine().getOut();
        // a TpmChangedException (exit 4) from the completion passes through to Main as it is
        try (Tpm tpm = services.tpm().open(tcti)) {
            JournalRecovery.Recovered r = JournalRecovery.recover(journal, tpm, complete, eventlog, lockWait);
            if (r.removed()) {
                out.println(json ? EventlogCommand.json(Map.of("journal", journal.toString(), "removed", true))
                        : "journal " + journal + " was never started (its run died creating it, before any extend): removed; "
                        + "that run extended nothing");
                out.flush();
                return;
            }
            if (json) {
                Map<String, Object> m = JournalText.json(journal, r.results());
                m.put("completed", complete && !r.diverged());
                m.put("completedSteps", r.steps().stream().map(x -> Map.of("seq", x.entry().seq(),
                        "found", x.found().name().toLowerCase(java.util.Locale.ROOT), "newSeq", x.newSeq())).toList());
                m.put("log", r.log() == null ? null : r.log().toString());
                m.put("finished", r.finished());
                out.println(EventlogCommand.json(m));
            } else {
                JournalText.print(out, journal, r.results());
            }
            if (r.diverged()) {
                out.flush();
                throw new CheckFailedException("the journal does not explain every PCR: nothing was extended; "
                        + "the TPM no longer matches any log this run could write");
            }
            if (!json) printOutcome(out, r);
        } catch (TpmException e) {
            throw new BadInputException("TPM " + tcti + ": " + e.getMessage(), e);
        }
        out.flush();
    }

    private void printOutcome(PrintWriter out, JournalRecovery.Recovered r) {
        if (!complete) {
            out.println(r.finished() ? "the journal is finished: nothing to complete"
                    : r.pending().stream().anyMatch(v -> v.outcome() == JournalRecovery.Outcome.NOT_REACHED)
                    ? "not completed: run with --complete to extend the events that did not reach the TPM and rebuild the log"
                    : "nothing to extend; run with --complete to rebuild the log and finish the journal");
            return;
        }
        for (JournalRecovery.Step x : r.steps()) {
            out.println("  " + JournalText.describe(x.entry()) + (x.newSeq() == 0
                    ? " marked done (the PCR shows it)" : " extended now (journal #" + x.newSeq() + ")"));
        }
        out.println(r.steps().isEmpty() ? "nothing to complete" : "completed: the TPM now holds every journaled extend");
        if (r.log() != null) out.println("rebuilt the whole log: " + r.log());
        out.println("journal finished: " + journal);
    }
}
