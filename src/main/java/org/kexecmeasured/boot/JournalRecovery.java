package org.kexecmeasured.boot;

import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Decides, from a journal and the PCR values read now, which journaled extends reached the TPM.
 *
 * <p>Extends are deterministic, so for each PCR the journal's start value plus the acknowledged
 * extends must give the current value; an extend whose intent was written but whose outcome was
 * not (crash, vanished TPM) either is or is not part of the current value, and exactly one of the
 * two replays can match. Anything else is a divergence that is reported, never guessed away.
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
