package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.tpm.PcrTpm;
import org.kexecmeasured.tpm.TpmCommandException;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The one path by which kexec-measured writes to a TPM: for each record, journal intent (fsync) →
 * one TPM2_PCR_Extend with every active bank → journal done → append to the log (a log-only record:
 * journal {@code logged} → append). {@link Commit} runs
 * a plan through it; {@link JournalRecovery#complete} runs the extends a crashed run left open through
 * it. It decides nothing: what to extend was decided by the {@link Planner}.
 *
 * <p>It keeps count of what may have reached the TPM, so a caller can tell "nothing changed" from
 * "the TPM now differs" after a failure ({@link #tpmMayHaveChanged()}).
 */
public final class ExtendPipeline {

    /** One extended record: its journal sequence number and where it came from (null: recovery, not journaled). */
    public record Extended(long seq, Measurement measurement, Origin origin) {
    }

    /** The TPM did not (or may not have) performed extend {@code seq}. */
    public static final class ExtendFailedException extends RuntimeException {
        private final long seq;
        private final Measurement measurement;
        private final boolean outcomeUnknown;

        ExtendFailedException(String message, long seq, Measurement m, boolean outcomeUnknown, Throwable cause) {
            super(message, cause);
            this.seq = seq;
            this.measurement = m;
            this.outcomeUnknown = outcomeUnknown;
        }

        public long seq() {
            return seq;
        }

        public Measurement measurement() {
            return measurement;
        }

        /** True when the TPM did not answer (the extend may or may not have happened). */
        public boolean outcomeUnknown() {
            return outcomeUnknown;
        }
    }

    private final PcrTpm tpm;
    private final List<HashAlg> tpmBanks;
    private final Journal journal;
    private final Path journalFile;
    private final EventLog.Builder log;
    private final List<HashAlg> logBanks;
    private final List<Extended> extended = new ArrayList<>();
    /** Extends sent whose effect is not known to be nil (acknowledged, unanswered, or answered but not journaled). */
    private long touched;

    /**
     * @param log      the log the records are appended to (null: no log is kept, e.g. recovery without {@code --eventlog})
     * @param logBanks the banks of that log
     */
    public ExtendPipeline(PcrTpm tpm, List<HashAlg> tpmBanks, Journal journal, Path journalFile, EventLog.Builder log,
                          List<HashAlg> logBanks) {
        this.tpm = tpm;
        this.tpmBanks = List.copyOf(tpmBanks);
        this.journal = journal;
        this.journalFile = journalFile;
        this.log = log;
        this.logBanks = List.copyOf(logBanks);
    }

    /** Carries out one planned record: extend it, log it only, or (side record) nothing. */
    public void run(PlannedRecord r) {
        switch (r.disposition()) {
            case EXTEND -> extend(r.measurement(), r.origin(), 0);
            case LOG_ONLY -> append(r);
            case SIDE_RECORD -> {
            }
        }
    }

    /**
     * Journal intent → extend → journal done → log. {@code supersedes} &gt; 0 (recovery): that earlier
     * intent did not reach the TPM; it is closed as failed after the new intent is durable and before the
     * extend is sent, so whichever point a crash hits, the journal holds at most one open intent for this
     * event, never two.
     */
    public Extended extend(Measurement m, Origin origin, long supersedes) {
        long seq;
        try {
            seq = journal.intent(m);
            if (supersedes > 0) {
                journal.failed(supersedes, "did not reach the TPM (found by recovery); extended again as #" + seq);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("journal " + journalFile + ": cannot record the intent to extend PCR "
                    + m.pcr() + " (not sent to the TPM): " + e.getMessage(), e);
        }
        touched++;
        try {
            tpm.extend(m.pcr(), PlannedRecord.select(m.digests(), tpmBanks));
        } catch (TpmCommandException e) {
            // the TPM answered with an error code: the extend did not happen
            touched--;
            try {
                journal.failed(seq, e.getMessage());
            } catch (IOException io) {
                e.addSuppressed(io);
            }
            throw failure(seq, m, origin, false, e);
        } catch (TpmException e) {
            throw failure(seq, m, origin, true, e);
        }
        try {
            journal.done(seq);
        } catch (IOException e) {
            throw new UncheckedIOException("journal " + journalFile + ": extend #" + seq + " reached the TPM but its "
                    + "'done' line could not be written: " + e.getMessage(), e);
        }
        Extended x = new Extended(seq, m, origin);
        extended.add(x);
        if (log != null) log.append(m.pcr(), m.eventType(), PlannedRecord.select(m.digests(), logBanks), m.eventData());
        return x;
    }

    /** Recovery: an intent the PCRs show reached the TPM is closed as done and logged; nothing is sent. */
    public void acknowledge(Journal.Entry e) {
        try {
            journal.done(e.seq());
        } catch (IOException io) {
            throw new UncheckedIOException("journal " + journalFile + ": cannot close #" + e.seq() + ": " + io.getMessage(), io);
        }
        Measurement m = e.measurement();
        if (log != null) log.append(m.pcr(), m.eventType(), PlannedRecord.select(m.digests(), logBanks), m.eventData());
    }

    /** A log-only record: journaled in its place (so the log can be rebuilt from the journal), then logged. */
    private void append(PlannedRecord r) {
        Measurement m = r.measurement();
        try {
            journal.logged(m);
        } catch (IOException e) {
            throw new UncheckedIOException("journal " + journalFile + ": cannot record the log-only record for PCR "
                    + m.pcr() + ": " + e.getMessage(), e);
        }
        if (log == null) return;
        log.append(m.pcr(), m.eventType(), r.logDigests(logBanks), m.eventData());
    }

    private ExtendFailedException failure(long seq, Measurement m, Origin origin, boolean unknown, TpmException e) {
        String what = String.format("extend #%d (PCR %d, event type 0x%x%s)", seq, m.pcr(), m.eventType(),
                origin == null ? "" : ", " + origin.name().toLowerCase(Locale.ROOT).replace('_', ' '));
        String msg = "the TPM failed at " + what + ": " + e.getMessage() + "; journal " + journalFile + ": "
                + extended.size() + " earlier extend(s) acknowledged, #" + seq
                + (unknown ? " sent without an answer (it may or may not have reached the TPM)" : " refused by the TPM")
                + "; run 'kexec-measured eventlog recover --journal " + journalFile + " --tpm TCTI' once the TPM answers";
        return new ExtendFailedException(msg, seq, m, unknown, e);
    }

    /** Acknowledged extends, in order. */
    public List<Extended> extended() {
        return Collections.unmodifiableList(extended);
    }

    /** The log as it stands (null when none is kept). */
    public EventLog log() {
        return log == null ? null : log.build();
    }

    /**
     * True once an extend was sent that the TPM did not cleanly refuse: the PCRs may differ from before
     * (exit 4 territory), even if no extend was acknowledged.
     */
    public boolean tpmMayHaveChanged() {
        return touched > 0;
    }
}
