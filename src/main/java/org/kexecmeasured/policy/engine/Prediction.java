package org.kexecmeasured.policy.engine;

import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a boot plan does to the PCRs: the values before (one read of the TPM, or a snapshot file),
 * every planned extend in order, and so the predicted values when the next kernel starts, in every
 * bank. The engine evaluates sealed secrets at that moment and at each boot phase the next system
 * passes (systemd-pcrphase extends H(word) into PCR 11 for every phase word).
 */
public final class Prediction {

    /**
     * One planned extend: the PCR, its digest per bank, what it is in words (e.g. "the kexec
     * boundary"), and whether it is the boundary record (the one extend a pristine boot lacks).
     */
    public record Extend(int pcr, Map<HashAlg, byte[]> digests, String what, boolean boundary) {
    }

    /** PCR values at one moment of the next boot. */
    public record State(String label, Map<HashAlg, byte[][]> values) {
    }

    private final List<HashAlg> banks;
    private final Map<HashAlg, byte[][]> before;
    private final Map<HashAlg, byte[][]> after;
    private final Map<Integer, List<String>> changes;
    private final List<Extend> extends_;

    private Prediction(List<HashAlg> banks, Map<HashAlg, byte[][]> before, Map<HashAlg, byte[][]> after,
                       Map<Integer, List<String>> changes, List<Extend> extends_) {
        this.banks = List.copyOf(banks);
        this.before = before;
        this.after = after;
        this.changes = changes;
        this.extends_ = List.copyOf(extends_);
    }

    /**
     * @param before  PCR values per bank, indexed by PCR (every bank of {@code banks}, 24 PCRs)
     * @param extends the plan's extends in TPM order
     */
    public static Prediction of(List<HashAlg> banks, Map<HashAlg, byte[][]> before, List<Extend> extends_) {
        Map<HashAlg, byte[][]> b = copy(banks, before);
        Map<HashAlg, byte[][]> a = copy(banks, before);
        Map<Integer, List<String>> changes = new TreeMap<>();
        for (Extend e : extends_) {
            for (HashAlg bank : banks) {
                byte[] d = e.digests().get(bank);
                if (d == null) throw new IllegalArgumentException("planned extend of PCR " + e.pcr() + " lacks a " + bank.tpmName + " digest");
                a.get(bank)[e.pcr()] = bank.extend(a.get(bank)[e.pcr()], d);
            }
            changes.computeIfAbsent(e.pcr(), k -> new ArrayList<>()).add(e.what());
        }
        return new Prediction(banks, b, a, changes, extends_);
    }

    private static Map<HashAlg, byte[][]> copy(List<HashAlg> banks, Map<HashAlg, byte[][]> v) {
        Map<HashAlg, byte[][]> out = new EnumMap<>(HashAlg.class);
        for (HashAlg bank : banks) {
            byte[][] src = v.get(bank);
            if (src == null) throw new IllegalArgumentException("no " + bank.tpmName + " PCR values");
            byte[][] c = new byte[Math.max(24, src.length)][];
            for (int i = 0; i < src.length; i++) c[i] = src[i] == null ? null : src[i].clone();
            out.put(bank, c);
        }
        return out;
    }

    public List<HashAlg> banks() {
        return banks;
    }

    /** The PCRs now. */
    public State before() {
        return new State("now, before the kexec", before);
    }

    /** The PCRs when the next kernel starts. */
    public State after() {
        return new State("when the next kernel starts", after);
    }

    /** The PCRs after the next system passed a phase path (words joined by ':'), e.g. "enter-initrd". */
    public State afterPhase(String phase) {
        Map<HashAlg, byte[][]> v = copy(banks, after);
        for (String word : phase.split(":")) {
            if (word.isEmpty()) continue;
            for (HashAlg bank : banks) {
                v.get(bank)[Pcr.KERNEL_BOOT] = bank.extend(v.get(bank)[Pcr.KERNEL_BOOT], bank.digest(word.getBytes(StandardCharsets.UTF_8)));
            }
        }
        return new State("at phase " + phase, v);
    }

    /**
     * The state of a first (pristine) boot of the same payload: every PCR the plan extends, from
     * zero, without the boundary record — what a signature made for this payload (its .pcrsig)
     * covers. Other PCRs keep their current values. Then the phase words, as {@link #afterPhase}.
     */
    public State pristine(String phase) {
        Map<HashAlg, byte[][]> v = copy(banks, before);
        for (int pcr : changes.keySet()) for (HashAlg bank : banks) v.get(bank)[pcr] = new byte[bank.size];
        for (Extend e : extends_) {
            if (e.boundary()) continue;
            for (HashAlg bank : banks) v.get(bank)[e.pcr()] = bank.extend(v.get(bank)[e.pcr()], e.digests().get(bank));
        }
        if (phase != null) {
            for (String word : phase.split(":")) {
                if (word.isEmpty()) continue;
                for (HashAlg bank : banks) {
                    v.get(bank)[Pcr.KERNEL_BOOT] = bank.extend(v.get(bank)[Pcr.KERNEL_BOOT], bank.digest(word.getBytes(StandardCharsets.UTF_8)));
                }
            }
        }
        return new State(phase == null ? "a first boot of this payload" : "a first boot of this payload, phase " + phase, v);
    }

    /** The states a secret is evaluated at: the kernel's start, then each phase. */
    public List<State> nextBootStates(List<String> phases) {
        List<State> out = new ArrayList<>();
        out.add(after());
        for (String p : phases) out.add(afterPhase(p));
        return out;
    }

    /** What the plan extends into {@code pcr}, in order (empty: the kexec leaves it as it is). */
    public List<String> changes(int pcr) {
        return changes.getOrDefault(pcr, List.of());
    }

    /** PCR → descriptions, for PCRs the plan extends. */
    public Map<Integer, List<String>> changes() {
        return Collections.unmodifiableMap(changes);
    }

    /** Predicted values of the PCRs the plan changes, per bank (for reports and manifests). */
    public Map<HashAlg, Map<Integer, byte[]>> changedValues() {
        Map<HashAlg, Map<Integer, byte[]>> out = new LinkedHashMap<>();
        for (HashAlg bank : banks) {
            Map<Integer, byte[]> m = new TreeMap<>();
            for (int p : changes.keySet()) m.put(p, after.get(bank)[p].clone());
            out.put(bank, m);
        }
        return out;
    }

    /** "the kexec boundary changes PCR 11 (then 8 payload measurements)" — what changes a PCR, in words. */
    public String explainChange(int pcr) {
        List<String> c = changes(pcr);
        if (c.isEmpty()) return "nothing the boot extends changes PCR " + pcr;
        String s = c.get(0) + " changes PCR " + pcr;
        if (c.size() > 1) {
            Map<String, Integer> counts = new LinkedHashMap<>();
            for (String x : c.subList(1, c.size())) counts.merge(x, 1, Integer::sum);
            List<String> parts = new ArrayList<>();
            counts.forEach((what, n) -> parts.add(n == 1 ? what : n + " " + what + "s"));
            s += " (then " + String.join(", ", parts) + ")";
        }
        return s;
    }
}
