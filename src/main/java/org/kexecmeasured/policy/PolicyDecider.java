package org.kexecmeasured.policy;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.Decision;
import org.kexecmeasured.boot.Divergence;
import org.kexecmeasured.boot.LoadedImage;
import org.kexecmeasured.boot.Manifest;
import org.kexecmeasured.boot.Origin;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.boot.PlannedRecord;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.uki.Uki;
import org.kexecmeasured.policy.engine.PayloadCheck;
import org.kexecmeasured.policy.engine.PcrSignatures;
import org.kexecmeasured.policy.engine.Prediction;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.reauth.Reauthorizer;
import org.kexecmeasured.tpm.PublicAreaReader;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.StepClock;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The policy engine as the boot's {@link Decider}: turns a {@link Plan} into a {@link Prediction}
 * (PCRs read before, every extend the commit will make), the payload facts (its PE, Authenticode,
 * the images the run loads, its .pcrsig) and the divergences, evaluates them
 * ({@link PolicyEngine#evaluate}), and answers allow or deny with the reasons, the re-authorization's
 * {@code tpm2-pcr-signature.json} for the next system's {@code /.extra/} (and a copy beside the manifest
 * in {@code /.extra/kexec-measured/}), and the verdicts for the manifest ({@code verdicts}, {@code
 * policyDecision}). The policy's secrets are read before the plan ({@link #prepare}), so bad input stops the
 * run before anything else.
 */
public final class PolicyDecider implements Decider {

    private final PolicyEngine.Prepared prepared;
    /** The payload; null at a commit at shutdown (its trust was decided at preparation). */
    private final java.nio.ByteBuffer payload;
    /** At a commit at shutdown: the payload's .pcrsig as saved at preparation (null: none). */
    private final JsonNode savedPcrsig;
    private final PublicAreaReader tpm;
    private PolicyEngine.Evaluation last;
    private Prediction lastPrediction;
    private Map<String, Long> lastSteps = Map.of();

    private PolicyDecider(PolicyEngine.Prepared prepared, java.nio.ByteBuffer payload, JsonNode savedPcrsig, PublicAreaReader tpm) {
        this.prepared = prepared;
        this.payload = payload;
        this.savedPcrsig = savedPcrsig;
        this.tpm = tpm;
    }

    /**
     * Reads what the policy names (certificates, secret sources, signature files).
     *
     * @param tpm the TPM for persistent objects and NV indexes (read-only); null offline
     */
    public static PolicyDecider prepare(PolicyFile policy, byte[] payload, PublicAreaReader tpm) {
        return prepare(policy, java.nio.ByteBuffer.wrap(payload), tpm);
    }

    /** As {@link #prepare(PolicyFile, byte[], PublicAreaReader)}, the payload read-only (a mapped file). */
    public static PolicyDecider prepare(PolicyFile policy, java.nio.ByteBuffer payload, PublicAreaReader tpm) {
        return of(PolicyEngine.prepare(policy, tpm), payload, tpm);
    }

    /**
     * The decider of what {@link PolicyEngine#prepare} read (elsewhere, e.g. on a second thread while the boot was
     * planned), the payload read-only.
     *
     * @param tpm the TPM for the evaluation's reads (systemd-pcrlock's NV index); null offline
     */
    public static PolicyDecider of(PolicyEngine.Prepared prepared, java.nio.ByteBuffer payload, PublicAreaReader tpm) {
        return new PolicyDecider(prepared, payload, null, tpm);
    }

    /**
     * The decider of a commit at shutdown ({@link PolicyAtCommit}): the same policy on the plan moved onto the PCRs
     * read then — every secret's verdict and the re-authorization again, the chain's PCRs again; the payload's trust
     * is not decided again (it was at preparation, and its images are the same).
     *
     * @param payloadPcrsig the payload's .pcrsig as saved at preparation, or null
     */
    public static PolicyDecider atCommit(PolicyFile policy, JsonNode payloadPcrsig, PublicAreaReader tpm) {
        return new PolicyDecider(PolicyEngine.prepare(policy, tpm), null, payloadPcrsig, tpm);
    }

    /** The boot's extend and boundary sets and identity (the file's SHA-256, as the boundary event records it). */
    public static BootPolicy bootPolicy(PolicyFile policy) {
        return new BootPolicy(policy.measurement().extendSet(), policy.measurement().boundarySet(), policy.id());
    }

    public PolicyFile policy() {
        return prepared.policy();
    }

    /** The evaluation of the last plan decided. */
    public PolicyEngine.Evaluation evaluation() {
        return last;
    }

    public Prediction prediction() {
        return lastPrediction;
    }

    /**
     * The wall time of each step of the last {@link #decide}, in microseconds and order: prediction, payloadFacts,
     * payloadTrust, findings (chain, banks, divergent PCRs), reauthorization (signing), verdicts, record.
     */
    public Map<String, Long> stepMicros() {
        return lastSteps;
    }

    @Override
    public Decision decide(Plan plan) {
        StepClock clock = new StepClock();
        Prediction prediction = prediction(plan);
        clock.mark("prediction");
        PolicyEngine.Payload facts = payloadFacts(plan);
        clock.mark("payloadFacts");
        PolicyEngine.Evaluation ev = PolicyEngine.evaluate(prepared, prediction, facts, divergences(plan), tpm, clock);
        last = ev;
        lastPrediction = prediction;
        List<String> reasons = new ArrayList<>();
        for (PolicyEngine.Finding f : ev.findings()) reasons.add(f.action() + ": " + f.text());
        if (reasons.isEmpty()) reasons.add("policy " + ev.policyId() + ": the payload is trusted and every secret meets its intent");
        // the re-authorization's signature: in /.extra/, where systemd-stub places a UKI's .pcrsig (and systemd's
        // initrd tmpfiles copy it to /run/systemd/ for systemd-cryptsetup), and beside the manifest, which the
        // initrd hook copies to /run/kexec-measured/ (for systems without that tmpfiles line)
        TreeMap<String, byte[]> extra = new TreeMap<>();
        TreeMap<String, byte[]> sidecar = new TreeMap<>();
        if (ev.reauthorization() != null) {
            extra.put(Reauthorizer.FILE_NAME, ev.reauthorization().json());
            sidecar.put(Reauthorizer.FILE_NAME, ev.reauthorization().json());
        }
        JsonNode record = Json.MAPPER.valueToTree(PolicyRecord.of(ev));
        clock.mark("record");
        lastSteps = clock.micros();
        return new Decision(ev.allowed(), reasons, sidecar, extra, record, verdicts(ev));
    }

    /** Each secret's verdict as the manifest's {@code verdicts} list carries it (read by {@code report}). */
    static List<Manifest.Verdict> verdicts(PolicyEngine.Evaluation ev) {
        return ev.secrets().stream().map(v -> new Manifest.Verdict(v.name(), v.verdict().word(), v.reason(),
                v.intent().word(), v.meetsIntent())).toList();
    }

    /** Before + the commit's extends, in order; each extend described by where it comes from. */
    public static Prediction prediction(Plan plan) {
        List<HashAlg> banks = plan.tpmBanks();
        Map<HashAlg, byte[][]> before = new EnumMap<>(HashAlg.class);
        for (HashAlg b : banks) {
            byte[][] v = new byte[24][];
            plan.pcrsBefore().values().get(b).forEach((pcr, d) -> {
                if (pcr < v.length) v[pcr] = d.clone();
            });
            before.put(b, v);
        }
        List<Prediction.Extend> extends_ = new ArrayList<>();
        for (PlannedRecord r : plan.extendRecords()) {
            extends_.add(new Prediction.Extend(r.measurement().pcr(), r.tpmDigests(banks), describe(r), r.origin() == Origin.BOUNDARY));
        }
        Prediction p = Prediction.of(banks, before, extends_);
        // the engine's arithmetic and the planner's agree, or nothing is decided
        for (HashAlg b : banks) {
            for (Map.Entry<Integer, byte[]> e : plan.predictedPcrs().values().get(b).entrySet()) {
                if (!java.util.Arrays.equals(e.getValue(), p.after().values().get(b)[e.getKey()])) {
                    throw new IllegalStateException("prediction of " + b.tpmName + " PCR " + e.getKey() + " disagrees with the plan");
                }
            }
        }
        return p;
    }

    static String describe(PlannedRecord r) {
        return switch (r.origin()) {
            case BOUNDARY -> "the kexec boundary";
            case PAYLOAD -> "payload measurement";
            case FIRMWARE -> "emulated-firmware measurement";
            case LINUX_STUB -> "Linux EFI stub measurement";
        };
    }

    /**
     * The payload's PE, its Authenticode SHA-256, every image the run starts ({@link Plan#images}: the payload,
     * each LoadImage, each PE image the chain loads itself and measures, the kernel handed over) and its .pcrsig. A plan
     * without images (restored from a pending boot) is the payload alone.
     */
    PolicyEngine.Payload payloadFacts(Plan plan) {
        List<PolicyEngine.ChainExtend> chain = new ArrayList<>();
        for (PlannedRecord r : plan.records()) {
            if (r.origin() == Origin.PAYLOAD && r.measurement().eventType() != EV_NO_ACTION) {
                chain.add(new PolicyEngine.ChainExtend(r.measurement().pcr(), r.measurement().eventType()));
            }
        }
        if (payload == null) {
            return new PolicyEngine.Payload(null, plan.payloadAuthenticodeSha256(), List.of(), pcrsig(savedPcrsig), chain);
        }
        PeFile pe = PeFile.parse(payload.duplicate());
        List<PayloadCheck.Image> images = new ArrayList<>();
        for (LoadedImage i : plan.images()) {
            String name = i.kind() == LoadedImage.Kind.PAYLOAD ? "the payload " + plan.payloadName() : i.describe();
            images.add(new PayloadCheck.Image(name, i.authenticodeSha256(), i.bytes()));
        }
        if (images.isEmpty()) images.add(new PayloadCheck.Image("the payload " + plan.payloadName(), plan.payloadAuthenticodeSha256(), pe.data()));
        return new PolicyEngine.Payload(pe, plan.payloadAuthenticodeSha256(), images,
                Uki.isUki(pe) ? pcrsig(Uki.of(pe).pcrSignature()) : null, chain);
    }

    /** The payload's .pcrsig as signatures; null when absent or unusable (systemd would not use it either). */
    static PcrSignatures pcrsig(JsonNode j) {
        if (j == null) return null;
        try {
            return PcrSignatures.parse(j, "the payload's .pcrsig");
        } catch (BadInputException e) {
            return null;
        }
    }

    /** TCG EV_NO_ACTION: logged, never extended, so no PCR is changed by it. */
    private static final int EV_NO_ACTION = 0x3;

    static List<PolicyEngine.Divergent> divergences(Plan plan) {
        List<PolicyEngine.Divergent> out = new ArrayList<>();
        for (Divergence d : plan.divergences()) {
            out.add(new PolicyEngine.Divergent(d.bank(), d.pcr(), d.tpm(), d.logReplay(), d.explanation()));
        }
        return out;
    }
}
