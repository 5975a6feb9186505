package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PcrTpm;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * Decides, from a journal and the PCR values read now, which journaled extends reached the TPM.
 *
 * <p>Extends are deterministic, so for each PCR the journal's start value plus the acknowledged
 * extends must give the current value; an extend whose intent was written but whose outcome was
 * not (crash, vanished TPM) either is or is not part of the current value, and exactly one of the
 * two replays can match. Anything else is a divergence that is reported, never guessed away.
 *
 * <p>{@link #complete} then finishes an interrupted run through the same {@link ExtendPipeline} as a
 * commit: intents the PCRs show reached the TPM are closed as done, the others are extended again
 * (new intent, the old one closed as failed, extend, done), in journal order.
 */
public final class JournalRecovery {

    public enum Outcome {
        /** Acknowledged by the TPM and consistent with the PCR. */
        REACHED,
        /** Not acknowledged, but the PCR shows it was extended. */
        REACHED_UNACKNOWLEDGED,
        /** Not acknowledged and the PCR shows it was not extended. */
        NOT_REACHED,
        /** The TPM refused it; the PCR agrees. */
        REFUSED,
        /** The PCR fits no replay of the journal: extended by someone else, or reset. */
        DIVERGED
    }

    public record Verdict(Journal.Entry entry, Outcome outcome) {
    }

    /** Per-PCR result: the verdicts of its entries and whether the PCR is explained. */
    public record PcrResult(int pcr, boolean consistent, List<Verdict> verdicts, String explanation) {
    }

    private JournalRecovery() {
    }

    /** At most this many unacknowledged extends per PCR are resolved (2^n replays). */
    private static final int MAX_PENDING = 10;

    public static List<PcrResult> analyse(Journal.Contents journal, Map<HashAlg, Map<Integer, byte[]>> now) {
        Map<Integer, List<Journal.Entry>> byPcr = new TreeMap<>();
        for (Journal.Entry e : journal.entries()) {
            byPcr.computeIfAbsent(e.measurement().pcr(), k -> new ArrayList<>()).add(e);
        }
        List<PcrResult> out = new ArrayList<>();
        for (Map.Entry<Integer, List<Journal.Entry>> p : byPcr.entrySet()) {
            out.add(analysePcr(p.getKey(), p.getValue(), journal.start(), now));
        }
        return out;
    }

    private static PcrResult analysePcr(int pcr, List<Journal.Entry> entries,
                                        Map<HashAlg, Map<Integer, byte[]>> start,
                                        Map<HashAlg, Map<Integer, byte[]>> now) {
        List<Integer> pending = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).state() == Journal.State.INTENT) pending.add(i);
        }
        if (pending.size() > MAX_PENDING) {
            return diverged(pcr, entries, pending.size() + " unacknowledged extends: too many to resolve");
        }
        List<HashAlg> banks = new ArrayList<>();
        for (HashAlg a : start.keySet()) {
            if (start.get(a).containsKey(pcr) && now.containsKey(a) && now.get(a).containsKey(pcr)) banks.add(a);
        }
        if (banks.isEmpty()) {
            return diverged(pcr, entries, "no bank has both a start value and a current value for PCR " + pcr);
        }
        long match = -1;
        int matches = 0;
        for (long mask = 0; mask < (1L << pending.size()); mask++) {
            if (replayMatches(pcr, entries, pending, mask, banks, start, now)) {
                matches++;
                match = mask;
            }
        }
        if (matches != 1) {
            return diverged(pcr, entries, matches == 0
                    ? "PCR " + pcr + " fits no replay of the journal: it was extended outside this run or reset"
                    : "PCR " + pcr + " fits several replays (repeated identical digests); cannot tell which extends reached the TPM");
        }
        List<Verdict> v = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            Journal.Entry e = entries.get(i);
            Outcome o = switch (e.state()) {
                case DONE -> Outcome.REACHED;
                case FAILED -> Outcome.REFUSED;
                case INTENT -> (match & (1L << pending.indexOf(i))) != 0 ? Outcome.REACHED_UNACKNOWLEDGED : Outcome.NOT_REACHED;
            };
            v.add(new Verdict(e, o));
        }
        return new PcrResult(pcr, true, v, "PCR " + pcr + " equals the journal's replay in " + banks);
    }

    private static boolean replayMatches(int pcr, List<Journal.Entry> entries, List<Integer> pending, long mask,
                                         List<HashAlg> banks, Map<HashAlg, Map<Integer, byte[]>> start,
                                         Map<HashAlg, Map<Integer, byte[]>> now) {
        for (HashAlg a : banks) {
            byte[] v = start.get(a).get(pcr);
            for (int i = 0; i < entries.size(); i++) {
                Journal.Entry e = entries.get(i);
                boolean applied = switch (e.state()) {
                    case DONE -> true;
                    case FAILED -> false;
                    case INTENT -> (mask & (1L << pending.indexOf(i))) != 0;
                };
                if (applied) {
                    byte[] d = e.measurement().digests().get(a);
                    if (d == null) return false;
                    v = a.extend(v, d);
                }
            }
            if (!Arrays.equals(v, now.get(a).get(pcr))) return false;
        }
        return true;
    }

    private static PcrResult diverged(int pcr, List<Journal.Entry> entries, String why) {
        List<Verdict> v = new ArrayList<>();
        for (Journal.Entry e : entries) v.add(new Verdict(e, Outcome.DIVERGED));
        return new PcrResult(pcr, false, v, why);
    }

    /** What {@link #complete} did with one pending entry; {@code newSeq} is 0 when it was only marked done. */
    public record Step(Journal.Entry entry, Outcome found, long newSeq) {
    }

    /** The live PCRs of the journal's banks (all 24, one read batch): what {@link #analyse} compares with. */
    public static Map<HashAlg, Map<Integer, byte[]>> readPcrs(PcrReader tpm, Journal.Contents journal) {
        List<HashAlg> sel = new ArrayList<>();
        for (HashAlg a : tpm.banks()) if (journal.start().containsKey(a)) sel.add(a);
        if (sel.isEmpty()) throw new BadInputException("the TPM has none of the journal's banks " + journal.start().keySet());
        return toMap(tpm.readPcrs(PcrSelection.of(sel, IntStream.range(0, Replay.PCR_COUNT).boxed().toList())));
    }

    /** The entries recovery can complete (not reached, or reached without an acknowledgement), in journal order. */
    public static List<Verdict> pending(List<PcrResult> results) {
        List<Verdict> out = new ArrayList<>();
        for (PcrResult r : results) {
            for (Verdict v : r.verdicts()) {
                if (v.outcome() == Outcome.NOT_REACHED || v.outcome() == Outcome.REACHED_UNACKNOWLEDGED) out.add(v);
            }
        }
        out.sort(Comparator.comparingLong(v -> v.entry().seq()));
        return out;
    }

    /**
     * Completes the journaled sequence on the TPM so it holds every journaled extend. Only call it when
     * every PCR is consistent ({@link PcrResult#consistent()}). Every digest is checked before the first
     * extend; then each pending entry goes through the {@link ExtendPipeline}, in journal order.
     *
     * @param log     the log the run left ({@code STATE/eventlog.partial.bin}), or null: the completed
     *                records are appended (they are the last of the run, which stops at its first
     *                failure, so the log stays in TPM extend order) and {@code logFile} is rewritten
     *                atomically, also after a failure, with what was completed
     * @throws TpmChangedException when it stops after an extend was sent (exit 4)
     */
    public static List<Step> complete(Path journalFile, PcrTpm tpm, List<Verdict> pending, EventLog log, Path logFile) {
        List<HashAlg> tpmBanks = tpm.banks();
        for (Verdict v : pending) {
            if (v.outcome() == Outcome.NOT_REACHED) requireDigests(v.entry(), tpmBanks, "");
            if (log != null) requireDigests(v.entry(), log.banks(), " for the log");
        }
        List<Step> steps = new ArrayList<>();
        Journal journal;
        try {
            journal = Journal.resume(journalFile);
        } catch (IOException e) {
            throw new BadInputException(journalFile + ": cannot append to the journal: " + e.getMessage());
        }
        ExtendPipeline pipeline = new ExtendPipeline(tpm, tpmBanks, journal, journalFile,
                log == null ? null : log.toBuilder(), log == null ? List.of() : log.banks());
        try {
            for (Verdict v : pending) {
                if (v.outcome() == Outcome.REACHED_UNACKNOWLEDGED) {
                    pipeline.acknowledge(v.entry());
                    steps.add(new Step(v.entry(), v.outcome(), 0));
                } else {
                    ExtendPipeline.Extended x = pipeline.extend(v.entry().measurement(), null, v.entry().seq());
                    steps.add(new Step(v.entry(), v.outcome(), x.seq()));
                }
            }
        } catch (RuntimeException e) {
            String logNote = steps.isEmpty() ? "" : writeLog(pipeline, logFile);
            if (!pipeline.tpmMayHaveChanged()) {
                throw e instanceof java.io.UncheckedIOException u
                        ? new BadInputException(u.getMessage() + " (nothing was extended)" + logNote, u) : e;
            }
            throw new TpmChangedException("recovery stopped after " + pipeline.extended().size() + " extend(s): "
                    + e.getMessage() + logNote, journalFile, log == null ? null : logFile, e);
        } finally {
            try {
                journal.close();
            } catch (IOException ignored) {
                // every line was forced to disk when written
            }
        }
        if (log != null && !steps.isEmpty()) {
            try {
                AtomicFiles.write(logFile, pipeline.log().toBytes());
            } catch (IOException e) {
                throw new TpmChangedException("recovery completed the journal, but " + logFile + " could not be written: "
                        + e.getMessage(), journalFile, null, e);
            }
        }
        return steps;
    }

    private static void requireDigests(Journal.Entry e, List<HashAlg> banks, String forWhat) {
        for (HashAlg a : banks) {
            if (!e.measurement().digests().containsKey(a)) {
                throw new BadInputException("journal entry #" + e.seq() + " has no " + a.tpmName + " digest" + forWhat
                        + " (nothing was extended)");
            }
        }
    }

    private static String writeLog(ExtendPipeline pipeline, Path logFile) {
        if (pipeline.log() == null) return "";
        try {
            AtomicFiles.write(logFile, pipeline.log().toBytes());
            return "; " + logFile + " holds the records completed so far";
        } catch (IOException io) {
            return "; writing " + logFile + " failed: " + io.getMessage();
        }
    }

    /** Convenience for callers holding PCR arrays. */
    public static Map<HashAlg, Map<Integer, byte[]>> toMap(Map<HashAlg, byte[][]> pcrs) {
        Map<HashAlg, Map<Integer, byte[]>> m = new EnumMap<>(HashAlg.class);
        for (Map.Entry<HashAlg, byte[][]> e : pcrs.entrySet()) {
            Map<Integer, byte[]> b = new TreeMap<>();
            for (int i = 0; i < e.getValue().length; i++) {
                if (e.getValue()[i] != null) b.put(i, e.getValue()[i]);
            }
            m.put(e.getKey(), b);
        }
        return m;
    }
}
