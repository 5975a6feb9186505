package org.kexecmeasured.boot;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PcrTpm;
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
        for (Journal.Entry e : journal.extendEntries()) {
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
                case FAILED, LOGGED -> Outcome.REFUSED;
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
                    case FAILED, LOGGED -> false;
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

    /**
     * What {@link #recover} found and did.
     *
     * @param steps    what the completion did (empty without {@code complete})
     * @param log      where the rebuilt whole log was written, or null
     * @param finished true when the journal now ends in {@code finished} (it no longer blocks a boot)
     * @param removed  true when the journal had no complete header (its run died creating it, before any
     *                 extend) and {@code complete} removed it; {@code journal} is null then
     */
    public record Recovered(Journal.Contents journal, List<PcrResult> results, List<Step> steps, Path log,
                            boolean finished, boolean removed) {
        public boolean diverged() {
            return results.stream().anyMatch(r -> !r.consistent());
        }

        public List<Verdict> pending() {
            return JournalRecovery.pending(results);
        }
    }

    /**
     * {@code eventlog recover}, top to bottom. Without {@code complete}: read the journal (every byte
     * checked), read the live PCRs, {@link #analyse}; nothing is written. With {@code complete}, under
     * the state directory's and the TPM's {@link Locks} (so two recoveries, or a recovery and a boot,
     * never interleave their journal lines or extends), after the same analysis and only when every PCR
     * is explained: check the firmware log's copy, {@link #complete} the open extends, {@link
     * #rebuildLog rebuild the whole log} and write it, then mark the journal finished.
     *
     * @param logOut where the rebuilt log goes; null: where the boot meant to write it (the journal's
     *               header), else {@code eventlog.bin} beside the journal
     */
    public static Recovered recover(Path journalFile, PcrTpm tpm, boolean complete, Path logOut,
                                    java.time.Duration lockWait) {
        if (!complete) {
            Journal.Contents jc = Journal.load(journalFile);
            return new Recovered(jc, analyse(jc, readPcrs(tpm, jc)), List.of(), null, jc.finished(), false);
        }
        Path dir = journalFile.toAbsolutePath().getParent();
        try (Locks.Held state = Locks.stateDir(dir, lockWait); Locks.Held t = Locks.tpm(tpm.tcti(), lockWait)) {
            Journal.Contents jc;
            try {
                jc = Journal.load(journalFile);
            } catch (Journal.UnstartedException e) {
                MeasuredBoot.removeUnstarted(journalFile);
                return new Recovered(null, List.of(), List.of(), null, false, true);
            }
            List<PcrResult> results = analyse(jc, readPcrs(tpm, jc));
            Recovered found = new Recovered(jc, results, List.of(), null, jc.finished(), false);
            if (found.diverged()) return found;
            Path out = logOut != null ? logOut : jc.origin().eventlogOut() != null ? Path.of(jc.origin().eventlogOut())
                    : jc.origin().firmwareLogFile() != null ? dir.resolve("eventlog.bin") : null;
            // everything that can fail without the TPM is checked before the first extend
            EventLog firmware = out == null ? null : firmwareLog(journalFile, jc);
            List<Step> steps = found.pending().isEmpty() ? List.of() : complete(journalFile, tpm, found.pending());
            Journal.Contents after = steps.isEmpty() ? jc : Journal.load(journalFile);
            if (out != null) {
                try {
                    org.kexecmeasured.util.AtomicFiles.write(out, rebuildLog(firmware, after).toBytes());
                } catch (IOException e) {
                    throw new TpmChangedException("recovery completed the journal (" + steps.size() + " step(s)), but "
                            + "the rebuilt log could not be written: " + e.getMessage(), journalFile, null, e);
                }
            }
            if (!after.finished()) finish(journalFile);
            return new Recovered(jc, results, steps, out, true, false);
        }
    }

    /** Appends {@code finished}: every record is where it belongs; the journal no longer blocks a boot. */
    static void finish(Path journalFile) {
        try (Journal j = Journal.resume(journalFile)) {
            j.finish();
        } catch (IOException e) {
            throw new BadInputException(journalFile + ": cannot mark the journal finished: " + e.getMessage());
        }
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
     * every PCR is consistent ({@link PcrResult#consistent()}) and while holding the state directory's
     * and the TPM's {@link Locks}. Every digest is checked before the first extend; then each pending
     * entry goes through the {@link ExtendPipeline}, in journal order: an intent the PCRs show reached
     * the TPM is closed as done, the others are extended again.
     *
     * @throws TpmChangedException when it stops after an extend was sent (exit 4)
     */
    public static List<Step> complete(Path journalFile, PcrTpm tpm, List<Verdict> pending) {
        List<HashAlg> tpmBanks = tpm.banks();
        for (Verdict v : pending) {
            if (v.outcome() == Outcome.NOT_REACHED) requireDigests(v.entry(), tpmBanks, "");
        }
        List<Step> steps = new ArrayList<>();
        Journal journal;
        try {
            journal = Journal.resume(journalFile);
        } catch (IOException e) {
            throw new BadInputException(journalFile + ": cannot append to the journal: " + e.getMessage());
        }
        ExtendPipeline pipeline = new ExtendPipeline(tpm, tpmBanks, journal, journalFile, null, List.of());
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
            if (!pipeline.tpmMayHaveChanged()) {
                throw e instanceof java.io.UncheckedIOException u
                        ? new BadInputException(u.getMessage() + " (nothing was extended)", u) : e;
            }
            throw new TpmChangedException("recovery stopped after " + pipeline.extended().size() + " extend(s): "
                    + e.getMessage(), journalFile, null, e);
        } finally {
            try {
                journal.close();
            } catch (IOException ignored) {
                // close() forces what is left; should that fail, finishing the journal forces it again
            }
        }
        return steps;
    }

    // ------------------------------------------------------------------ the whole log

    /**
     * The firmware log the commit continued: the copy beside the journal that its header names, checked
     * against the header's size and SHA-256 (a copy that differs is never used).
     */
    public static EventLog firmwareLog(Path journalFile, Journal.Contents journal) {
        Journal.Origin o = journal.origin();
        if (o.firmwareLogFile() == null) {
            throw new BadInputException(journalFile + ": the journal names no copy of the firmware log, so the whole log "
                    + "cannot be rebuilt from it");
        }
        Path f = journalFile.toAbsolutePath().resolveSibling(o.firmwareLogFile());
        byte[] b;
        try {
            long size = java.nio.file.Files.size(f);
            if (size != o.firmwareLogSize()) {
                throw new BadInputException(f + ": " + size + " bytes, but the journal recorded " + o.firmwareLogSize()
                        + ": not the firmware log this run continued");
            }
            b = BoundedFiles.read(f, BoundedFiles.EVENTLOG);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BadInputException(f + ": the copy of the firmware log named by " + journalFile + " is missing");
        } catch (IOException e) {
            throw new BadInputException(f + ": cannot read the copy of the firmware log: " + e.getMessage());
        }
        if (!Arrays.equals(HashAlg.SHA256.digest(b), o.firmwareLogSha256())) {
            throw new BadInputException(f + ": its SHA-256 is not the one " + journalFile + " recorded: not the firmware "
                    + "log this run continued");
        }
        return EventLog.parse(b);
    }

    /**
     * The whole continued log as the journal says it stands: the firmware log, then every record the
     * TPM holds ({@code done}) and every log-only record ({@code logged}), in journal order. An open
     * intent is an error (its fate is decided by {@link #complete} first); refused ones are left out.
     */
    public static EventLog rebuildLog(EventLog firmware, Journal.Contents journal) {
        EventLog.Builder b = firmware.toBuilder();
        List<HashAlg> banks = firmware.banks();
        for (Journal.Entry e : journal.entries()) {
            Measurement m = e.measurement();
            switch (e.state()) {
                case DONE -> {
                    requireDigests(e, banks, " for the log");
                    b.append(m.pcr(), m.eventType(), PlannedRecord.select(m.digests(), banks), m.eventData());
                }
                case LOGGED -> {
                    Map<HashAlg, byte[]> zero = new EnumMap<>(HashAlg.class);
                    for (HashAlg a : banks) zero.put(a, new byte[a.size]);
                    b.append(m.pcr(), m.eventType(), zero, m.eventData());
                }
                case FAILED -> {
                }
                case INTENT -> throw new BadInputException("journal entry #" + e.seq() + " is still open: "
                        + "its fate must be settled (recover --complete) before the log can be rebuilt");
            }
        }
        return b.build();
    }

    private static void requireDigests(Journal.Entry e, List<HashAlg> banks, String forWhat) {
        for (HashAlg a : banks) {
            if (!e.measurement().digests().containsKey(a)) {
                throw new BadInputException("journal entry #" + e.seq() + " has no " + a.tpmName + " digest" + forWhat
                        + " (nothing was extended)");
            }
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
