package org.kexecmeasured.policy.engine;

import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.secret.PolicyStep;
import org.kexecmeasured.policy.secret.SealedSecret;
import org.kexecmeasured.policy.secret.UnlockRoute;
import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PublicAreaReader;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.tpm.policy.TpmNames;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides, per sealed secret, whether it can be unsealed after the kexec: every route's policy
 * session is replayed in pure code (the {@link PolicyDigest} calculator, tested against TPM trial
 * sessions) with the predicted PCR values of each moment of the next boot, and compared with the
 * object's authPolicy. A signed policy step needs a signature that covers the predicted values.
 * Every verdict carries its reason in words; what cannot be evaluated is "unknown", never a guess.
 */
public final class SecretEvaluator {

    private final Prediction prediction;
    private final List<Prediction.State> states;
    private final SignatureCatalog catalog;
    private final PublicAreaReader tpm;
    private final List<String> phases;

    /**
     * @param phases the phase paths of the next system (the states evaluated besides the kernel's start)
     * @param tpm    for reading NV indexes (pcrlock); null offline
     */
    /**
     * What the evaluation of every route at every state recomputes from the same inputs, computed once per evaluator:
     * the pristine states by phase (null: the kernel's start; each replays every planned extend), a signing key's
     * fingerprint and its TPM name (by the Authorize step, which holds the key).
     */
    private final Map<String, Prediction.State> pristine = new java.util.HashMap<>();
    private final Map<PolicyStep.Authorize, byte[]> fingerprints = new java.util.IdentityHashMap<>();
    private final Map<PolicyStep.Authorize, byte[]> keyNames = new java.util.IdentityHashMap<>();

    public SecretEvaluator(Prediction prediction, List<String> phases, SignatureCatalog catalog, PublicAreaReader tpm) {
        this.prediction = prediction;
        this.phases = List.copyOf(phases);
        this.states = prediction.nextBootStates(phases);
        this.catalog = catalog;
        this.tpm = tpm;
    }

    /** The verdict on one secret of the policy. */
    public SecretVerdict evaluate(PolicyFile.Secret spec, SealedSecret secret) {
        List<SecretVerdict.RouteVerdict> routes = new ArrayList<>();
        for (UnlockRoute r : secret.routes()) routes.add(evaluate(r));
        Verdict v;
        String reason;
        if (routes.isEmpty()) {
            v = Verdict.UNKNOWN;
            reason = secret.notes().isEmpty() ? "no TPM-sealed route to this secret was found" : String.join("; ", secret.notes());
        } else if (routes.stream().anyMatch(r -> r.verdict() == Verdict.REACHABLE)) {
            v = Verdict.REACHABLE;
            SecretVerdict.RouteVerdict r = routes.stream().filter(x -> x.verdict() == Verdict.REACHABLE).findFirst().orElseThrow();
            reason = routes.size() == 1 ? r.reason() : r.route() + ": " + r.reason();
        } else if (routes.stream().anyMatch(r -> r.verdict() == Verdict.UNKNOWN)) {
            v = Verdict.UNKNOWN;
            SecretVerdict.RouteVerdict r = routes.stream().filter(x -> x.verdict() == Verdict.UNKNOWN).findFirst().orElseThrow();
            reason = routes.size() == 1 ? r.reason() : r.route() + ": " + r.reason();
        } else {
            v = Verdict.UNREACHABLE;
            reason = routes.size() == 1 ? routes.get(0).reason()
                    : String.join("; ", routes.stream().map(r -> r.route() + ": " + r.reason()).toList());
        }
        boolean meets = switch (spec.mustRemain()) {
            case ANY -> true;
            case REACHABLE -> v == Verdict.REACHABLE;
            case UNREACHABLE -> v == Verdict.UNREACHABLE;
        };
        return new SecretVerdict(spec.name(), secret.source(), spec.mustRemain(), v, reason, routes, secret.notes(), meets);
    }

    /** A route across the moments of the next boot. */
    public SecretVerdict.RouteVerdict evaluate(UnlockRoute r) {
        if (r.open()) {
            return new SecretVerdict.RouteVerdict(r.label(), Verdict.REACHABLE, String.join("; ", r.notes()),
                    states.stream().map(Prediction.State::label).toList(), r.notes());
        }
        List<String> reachableAt = new ArrayList<>();
        List<Outcome> outcomes = new ArrayList<>();
        for (Prediction.State s : states) {
            Outcome o = at(r, s);
            outcomes.add(o);
            if (o.verdict == Verdict.REACHABLE) reachableAt.add(s.label());
        }
        if (!reachableAt.isEmpty()) {
            String reason = "the policy is satisfied " + String.join(", ", reachableAt);
            return new SecretVerdict.RouteVerdict(r.label(), Verdict.REACHABLE, reason, reachableAt, r.notes());
        }
        for (Outcome o : outcomes) {
            if (o.verdict == Verdict.UNKNOWN) return new SecretVerdict.RouteVerdict(r.label(), Verdict.UNKNOWN, o.reason, List.of(), r.notes());
        }
        // a signed policy is signed for phases: its most telling failure is at the first phase
        boolean signed = r.steps().stream().anyMatch(x -> x instanceof PolicyStep.Authorize);
        Outcome o = signed && outcomes.size() > 1 ? outcomes.get(1) : outcomes.get(0);
        String where = signed && outcomes.size() > 1 ? states.get(1).label() : states.get(0).label();
        return new SecretVerdict.RouteVerdict(r.label(), Verdict.UNREACHABLE, o.reason + " (" + where + ")", List.of(), r.notes());
    }

    private record Outcome(Verdict verdict, String reason) {
    }

    /** Replays the route's session at one state. */
    private Outcome at(UnlockRoute r, Prediction.State s) {
        PolicyDigest d = PolicyDigest.start(r.sessionAlg());
        for (PolicyStep step : r.steps()) {
            if (step instanceof PolicyStep.Pcr p) {
                for (HashAlg bank : p.selection().banks()) {
                    if (!s.values().containsKey(bank)) {
                        return new Outcome(Verdict.UNKNOWN, "the policy uses the " + bank.tpmName
                                + " bank, which the PCR reading does not have");
                    }
                }
                d = d.policyPcr(p.selection(), s.values());
            } else if (step instanceof PolicyStep.AuthValue) {
                d = d.policyAuthValue();
            } else if (step instanceof PolicyStep.Authorize a) {
                byte[] approved = d.digest();
                byte[] pkfp = fingerprint(a);
                SignatureCatalog.Match m = catalog.find(a.bank(), a.signedPcrs(), pkfp, a.key(), approved);
                if (m == null) return new Outcome(Verdict.UNREACHABLE, noSignature(a, pkfp, approved, s));
                d = d.policyAuthorize(keyName(a), a.policyRef());
            } else if (step instanceof PolicyStep.AuthorizeNv n) {
                Outcome o = authorizeNv(n, d, s);
                if (o != null) return o;
                d = d.policyAuthorizeNv(nvNameWritten(n.nv()));
            }
        }
        if (Arrays.equals(d.digest(), r.authPolicy())) return new Outcome(Verdict.REACHABLE, null);
        return mismatch(r, s, d.digest());
    }

    /** The NV index's Name as the TPM computes it once the index is written (TPMA_NV_WRITTEN set). */
    private static byte[] nvNameWritten(NvPublic nv) {
        byte[] area = nv.area();
        area[6] |= (byte) ((NvPublic.WRITTEN >>> 24) & 0xFF);
        return TpmNames.name(nv.nameAlg(), area);
    }

    private Outcome authorizeNv(PolicyStep.AuthorizeNv n, PolicyDigest d, Prediction.State s) {
        String idx = String.format("0x%08x", n.nv().nvIndex());
        if (n.pcrlock() == null) {
            return new Outcome(Verdict.UNKNOWN, "pcrlock: NV index " + idx + " holds a PolicyOR over PCR values recorded in "
                    + "systemd-pcrlock's pcrlock.json; name that file as pcrlock-policy to evaluate it");
        }
        byte[] stored = n.pcrlock().storedPolicy(d.alg());
        if (tpm == null) {
            return new Outcome(Verdict.UNKNOWN, "pcrlock: NV index " + idx + " cannot be read without a TPM (offline prediction), "
                    + "so " + n.pcrlock().source() + " cannot be checked against it");
        }
        byte[] nv;
        try {
            nv = tpm.nvReadAsOwner(n.nv().nvIndex(), 2 + d.alg().size);
        } catch (TpmException | BadInputException e) {
            return new Outcome(Verdict.UNKNOWN, "pcrlock: NV index " + idx + " cannot be read: " + e.getMessage());
        }
        byte[] expect = new byte[2 + stored.length];
        expect[0] = (byte) (d.alg().algId >>> 8);
        expect[1] = (byte) d.alg().algId;
        System.arraycopy(stored, 0, expect, 2, stored.length);
        if (!Arrays.equals(nv, expect)) {
            return new Outcome(Verdict.UNKNOWN, "pcrlock: NV index " + idx + " holds policy " + Hex.of(nv) + ", but "
                    + n.pcrlock().source() + " describes " + Hex.of(expect) + " (the file is stale or not this index's)");
        }
        String unmet = n.pcrlock().unmet(s.values());
        if (unmet != null) return new Outcome(Verdict.UNREACHABLE, "pcrlock: " + unmet + explainSuffix(unmet));
        return null;
    }

    private String explainSuffix(String unmet) {
        // "PCR 11 sha256 … is none of …": say what changes that PCR
        String[] w = unmet.split(" ");
        if (w.length > 1 && w[0].equals("PCR")) {
            try {
                return ": " + prediction.explainChange(Integer.parseInt(w[1]));
            } catch (NumberFormatException ignored) {
                // not a PCR number
            }
        }
        return "";
    }

    /** The signing key's fingerprint (systemd's pkfp), once per step. */
    private byte[] fingerprint(PolicyStep.Authorize a) {
        return fingerprints.computeIfAbsent(a, x -> SignatureCatalog.fingerprint(x.key()));
    }

    /** The signing key's TPM name as PolicyAuthorize takes it (an external key's public area), once per step. */
    private byte[] keyName(PolicyStep.Authorize a) {
        return keyNames.computeIfAbsent(a, x -> TpmNames.name(x.keyNameAlg(),
                TpmNames.publicArea(x.key(), x.keyNameAlg(), TpmNames.EXTERNAL_KEY_ATTRIBUTES)));
    }

    /** Why no signature covers the approved policy at this state. */
    private String noSignature(PolicyStep.Authorize a, byte[] pkfp, byte[] approved, Prediction.State s) {
        List<SignatureCatalog.Match> cands = catalog.forKey(a.bank(), a.signedPcrs(), pkfp, a.key());
        String sel = a.bank().tpmName + " PCR " + join(a.signedPcrs());
        String fp = Hex.of(pkfp).substring(0, 16);
        if (cands.isEmpty()) {
            Set<String> srcs = new LinkedHashSet<>();
            for (SignatureCatalog.Source src : catalog.sources()) srcs.add(src.label());
            return "no signature by key " + fp + "… for " + sel + " is available"
                    + (srcs.isEmpty() ? " (no signature files at all)" : " in " + String.join(", ", srcs))
                    + "; without one PolicyAuthorize fails";
        }
        // name the values the signatures were made for, when they are a pristine boot of this payload
        PcrSelection selection = PcrSelection.of(a.bank(), a.signedPcrs());
        List<String> pristineStates = new ArrayList<>();
        pristineStates.add(null);
        pristineStates.addAll(phases);
        for (SignatureCatalog.Match m : cands) {
            for (String ph : pristineStates) {
                Prediction.State p = pristine.computeIfAbsent(ph, prediction::pristine);
                byte[] pol = PolicyDigest.start(HashAlg.SHA256).policyPcr(selection, p.values()).digest();
                if (!Hex.of(pol).equalsIgnoreCase(m.entry().pol())) continue;
                StringBuilder sb = new StringBuilder();
                for (int pcr : a.signedPcrs()) {
                    byte[] predicted = s.values().get(a.bank())[pcr];
                    byte[] signedFor = p.values().get(a.bank())[pcr];
                    if (Arrays.equals(predicted, signedFor)) continue;
                    if (sb.length() > 0) sb.append("; ");
                    sb.append("PCR ").append(pcr).append(' ').append(a.bank().tpmName).append(" predicted ")
                            .append(Hex.of(predicted)).append(" ≠ signed ").append(Hex.of(signedFor))
                            .append(" (").append(m.source()).append(": ").append(p.label()).append("): ")
                            .append(prediction.explainChange(pcr));
                }
                if (sb.length() > 0) return sb.toString();
            }
        }
        List<String> predicted = new ArrayList<>();
        for (int pcr : a.signedPcrs()) predicted.add("PCR " + pcr + " " + a.bank().tpmName + " " + Hex.of(s.values().get(a.bank())[pcr]));
        Set<String> srcs = new LinkedHashSet<>();
        for (SignatureCatalog.Match m : cands) srcs.add(m.source());
        long bad = cands.stream().filter(m -> !m.verifies()).count();
        return "the " + cands.size() + " signature(s) by key " + fp + "… for " + sel + " (" + String.join(", ", srcs) + ") "
                + "cover other values than the predicted " + String.join(", ", predicted)
                + (bad > 0 ? " (" + bad + " of them do not verify)" : "")
                + (a.signedPcrs().isEmpty() ? "" : ": " + prediction.explainChange(a.signedPcrs().get(0)));
    }

    /** The final digest is not the authPolicy: say which PCRs the kexec changes, or that the sealing state is another one. */
    private Outcome mismatch(UnlockRoute r, Prediction.State s, byte[] got) {
        Prediction.State now = prediction.before();
        // the PolicyPCR steps that count: after the last Authorize/AuthorizeNV (which reset the digest)
        List<PcrSelection> pcrSteps = new ArrayList<>();
        for (PolicyStep step : r.steps()) {
            if (step instanceof PolicyStep.Authorize || step instanceof PolicyStep.AuthorizeNv) pcrSteps.clear();
            if (step instanceof PolicyStep.Pcr p) pcrSteps.add(p.selection());
        }
        String described = describe(r);
        if (satisfiedIgnoringSignatures(r, now)) {
            StringBuilder sb = new StringBuilder();
            for (PcrSelection sel : pcrSteps) {
                for (HashAlg bank : sel.banks()) {
                    for (int pcr : sel.pcrs(bank)) {
                        byte[] a = s.values().get(bank)[pcr];
                        byte[] b = now.values().get(bank)[pcr];
                        if (Arrays.equals(a, b)) continue;
                        if (sb.length() > 0) sb.append("; ");
                        sb.append("PCR ").append(pcr).append(' ').append(bank.tpmName).append(" predicted ").append(Hex.of(a))
                                .append(" ≠ sealed-to ").append(Hex.of(b)).append(": ").append(prediction.explainChange(pcr));
                    }
                }
            }
            if (sb.length() == 0) sb.append(described).append(" gives ").append(Hex.of(got)).append(", not the authPolicy ").append(Hex.of(r.authPolicy()));
            return new Outcome(Verdict.UNREACHABLE, sb.toString());
        }
        String detail = described + " over the predicted values gives " + Hex.of(got) + ", the object's authPolicy is " + Hex.of(r.authPolicy());
        if (!r.authoritative()) {
            return new Outcome(Verdict.UNKNOWN, detail + ", and the current PCRs do not satisfy it either: the policy file's "
                    + "description (pcrs, auth-value) may not be this object's policy");
        }
        return new Outcome(Verdict.UNREACHABLE, detail + "; the current PCRs do not satisfy it either: it was sealed to other PCR values");
    }

    /** Whether the route's final digest matches at {@code s}, treating signed steps as satisfied. */
    private boolean satisfiedIgnoringSignatures(UnlockRoute r, Prediction.State s) {
        PolicyDigest d = PolicyDigest.start(r.sessionAlg());
        for (PolicyStep step : r.steps()) {
            if (step instanceof PolicyStep.Pcr p) {
                for (HashAlg bank : p.selection().banks()) if (!s.values().containsKey(bank)) return false;
                d = d.policyPcr(p.selection(), s.values());
            } else if (step instanceof PolicyStep.AuthValue) {
                d = d.policyAuthValue();
            } else if (step instanceof PolicyStep.Authorize a) {
                d = d.policyAuthorize(keyName(a), a.policyRef());
            } else if (step instanceof PolicyStep.AuthorizeNv n) {
                d = d.policyAuthorizeNv(nvNameWritten(n.nv()));
            }
        }
        return Arrays.equals(d.digest(), r.authPolicy());
    }

    /** "PolicyPCR sha256:7,11 → PolicyAuthValue". */
    static String describe(UnlockRoute r) {
        List<String> parts = new ArrayList<>();
        for (PolicyStep step : r.steps()) {
            if (step instanceof PolicyStep.Pcr p) parts.add("PolicyPCR " + p.selection());
            else if (step instanceof PolicyStep.AuthValue) parts.add("PolicyAuthValue");
            else if (step instanceof PolicyStep.Authorize a) parts.add("PolicyAuthorize(key " + Hex.of(SignatureCatalog.fingerprint(a.key())).substring(0, 16) + "…)");
            else if (step instanceof PolicyStep.AuthorizeNv n) parts.add(String.format("PolicyAuthorizeNV(0x%08x)", n.nv().nvIndex()));
        }
        return parts.isEmpty() ? "an empty policy" : String.join(" → ", parts);
    }

    private static String join(List<Integer> l) {
        StringBuilder sb = new StringBuilder();
        for (int i : l) {
            if (sb.length() > 0) sb.append('+');
            sb.append(i);
        }
        return sb.toString();
    }

    /** For reports: the PCR values the route's PolicyPCR steps use at each state. */
    public Map<String, Prediction.State> states() {
        Map<String, Prediction.State> m = new java.util.LinkedHashMap<>();
        for (Prediction.State s : states) m.put(s.label(), s);
        return m;
    }
}
