package org.kexecmeasured.policy;

import org.kexecmeasured.util.BoundedFiles;

import org.bouncycastle.cert.X509CertificateHolder;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.policy.engine.PayloadCheck;
import org.kexecmeasured.policy.engine.PcrSignatures;
import org.kexecmeasured.policy.engine.Prediction;
import org.kexecmeasured.policy.engine.SecretEvaluator;
import org.kexecmeasured.policy.engine.SecretVerdict;
import org.kexecmeasured.policy.engine.SignatureCatalog;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.reauth.Reauthorizer;
import org.kexecmeasured.policy.reauth.SigningKey;
import org.kexecmeasured.policy.secret.SealedSecret;
import org.kexecmeasured.policy.secret.SecretReader;
import org.kexecmeasured.tpm.PublicAreaReader;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.StepClock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The policy engine, in two steps. {@link #prepare}: read everything the policy names (trusted
 * certificates, every secret source, signature files) — before the boot is planned, so bad input
 * stops the run before anything else happens. {@link #evaluate}: given the plan's prediction,
 * check the payload, the PCRs that already disagree with the firmware log, each secret's verdict
 * (after an opt-in re-authorization) and decide: allow, or deny with the reasons.
 */
public final class PolicyEngine {

    /** What the policy names, read and checked. */
    public record Prepared(PolicyFile policy, List<X509CertificateHolder> anchors, List<SealedSecret> secrets,
                           SignatureCatalog signatures, SigningKey signingKey) implements AutoCloseable {
        /** Without a signing key kept: the re-authorization reads it when it signs. */
        public Prepared(PolicyFile policy, List<X509CertificateHolder> anchors, List<SealedSecret> secrets,
                        SignatureCatalog signatures) {
            this(policy, anchors, secrets, signatures, null);
        }

        /** Frees the signing key kept for the re-authorization (when one was: {@link #prepare(PolicyFile, PublicAreaReader, boolean)}). */
        @Override
        public void close() {
            if (signingKey != null) signingKey.close();
        }
    }

    /** A PCR whose TPM value the firmware log does not explain (from the plan). */
    public record Divergent(HashAlg bank, int pcr, byte[] tpm, byte[] logReplay, String explanation) {
    }

    /**
     * What the payload is, for the trust checks: its PE (null at a commit at shutdown: trust was decided at
     * preparation), Authenticode, every image the run starts (the payload first; empty = the payload alone),
     * its .pcrsig, the chain's own measurements.
     */
    public record Payload(PeFile pe, byte[] authenticodeSha256, List<PayloadCheck.Image> images, PcrSignatures pcrsig,
                          List<ChainExtend> chainExtends) {
        public Payload {
            images = List.copyOf(images);
            chainExtends = List.copyOf(chainExtends);
        }

        /** Without the chain's measurements (nothing for {@code shim-may-extend} to check). */
        public Payload(PeFile pe, byte[] authenticodeSha256, List<PayloadCheck.Image> images, PcrSignatures pcrsig) {
            this(pe, authenticodeSha256, images, pcrsig, List.of());
        }
    }

    /**
     * A measurement the chain's own code made through EFI_TCG2_PROTOCOL (not the emulated firmware's image and
     * ExitBootServices events, not the boundary, not the Linux stub), extended or kept as a side record.
     */
    public record ChainExtend(int pcr, int eventType) {
    }

    /** One reason for the decision: deny, or warn (the boot goes on). */
    public record Finding(String action, String text) {
        public static Finding deny(String t) {
            return new Finding("deny", t);
        }

        public static Finding warn(String t) {
            return new Finding("warn", t);
        }
    }

    /** The whole evaluation: every verdict and the decision. */
    public record Evaluation(String policyId, PayloadCheck.Result payload, List<Divergent> divergent, Set<Integer> tolerated,
                             List<SecretVerdict> secrets, Reauthorizer.Result reauthorization, List<Finding> findings) {
        public boolean allowed() {
            return findings.stream().noneMatch(f -> f.action().equals("deny"));
        }
    }

    private PolicyEngine() {
    }

    /**
     * Whether {@link #prepare} reads the TPM for this policy: a secret that lives in it (a persistent object, an NV
     * index). Every other source is a file, so such a policy's preparation needs no TPM at all.
     */
    public static boolean preparationReadsTpm(PolicyFile policy) {
        return policy.secrets().stream().anyMatch(s -> s.source() instanceof PolicyFile.Tpm2HandleSource
                || s.source() instanceof PolicyFile.Tpm2NvSource);
    }

    /** Reads what the policy names. {@code tpm}: for persistent objects and NV indexes; null offline. */
    public static Prepared prepare(PolicyFile policy, PublicAreaReader tpm) {
        return prepare(policy, tpm, false);
    }

    /**
     * As {@link #prepare(PolicyFile, PublicAreaReader)}; {@code keepSigningKey}: the re-authorization's signing key,
     * read here to check it, is kept open in the result for the evaluation to sign with (not read a second time), and
     * the caller closes the result ({@link Prepared#close}) once it has decided; else it is closed at once and read
     * again when the evaluation signs ({@code boot}: no private key is held while the payload is emulated).
     */
    public static Prepared prepare(PolicyFile policy, PublicAreaReader tpm, boolean keepSigningKey) {
        List<X509CertificateHolder> anchors = PayloadCheck.certificates(policy.payload());
        SecretReader reader = new SecretReader(tpm);
        List<SealedSecret> secrets = new ArrayList<>();
        for (PolicyFile.Secret s : policy.secrets()) secrets.add(reader.read(s));
        SignatureCatalog catalog = new SignatureCatalog();
        for (Path p : policy.signatures()) {
            byte[] b;
            try {
                if (Files.size(p) > (1 << 20)) throw new BadInputException(p + ": larger than 1 MiB, not a PCR signature file");
                b = BoundedFiles.read(p, BoundedFiles.TEXT);
            } catch (IOException e) {
                throw new BadInputException(p + ": cannot read the PCR signature file: " + e.getMessage());
            }
            catalog.add(p.toString(), PcrSignatures.parse(b, p.toString()));
        }
        SigningKey key = null;
        if (policy.reauthorize() != null) {
            // fail early on an unreadable or unusable key: re-authorization happens after the plan
            key = SigningKey.read(policy.reauthorize().signingKey());
            if (!keepSigningKey) {
                key.close();
                key = null;
            }
        }
        return new Prepared(policy, anchors, secrets, catalog, key);
    }

    /**
     * {@code measurement.shim-may-extend}: one finding per PCR outside the set that the chain measured into,
     * deny or warn as {@code decision.chain-extends} says; none when the policy does not restrict it.
     */
    static List<Finding> chainExtends(PolicyFile policy, List<ChainExtend> extends_) {
        SortedSet<Integer> may = policy.measurement().shimMayExtend();
        List<Finding> out = new ArrayList<>();
        if (may == null) return out;
        java.util.SortedMap<Integer, java.util.SortedSet<String>> outside = new java.util.TreeMap<>();
        java.util.Map<Integer, Integer> count = new java.util.HashMap<>();
        for (ChainExtend e : extends_) {
            if (may.contains(e.pcr())) continue;
            outside.computeIfAbsent(e.pcr(), k -> new TreeSet<>()).add(org.kexecmeasured.eventlog.EventType.name(e.eventType()));
            count.merge(e.pcr(), 1, Integer::sum);
        }
        for (java.util.Map.Entry<Integer, java.util.SortedSet<String>> o : outside.entrySet()) {
            String text = "measurement: the chain measures " + count.get(o.getKey()) + " event(s) into PCR " + o.getKey() + " ("
                    + String.join(", ", o.getValue()) + "), which measurement.shim-may-extend " + may + " does not allow";
            out.add(policy.decision().chainExtends() == PolicyFile.Action.DENY ? Finding.deny(text)
                    : Finding.warn(text + " (decision.chain-extends: warn)"));
        }
        return out;
    }

    /**
     * Evaluates the plan: payload trust, divergent PCRs, re-authorization (when the policy opts in,
     * its signature joins the catalog), each secret, then the decision.
     */
    public static Evaluation evaluate(Prepared p, Prediction prediction, Payload payload, List<Divergent> divergent,
                                      PublicAreaReader tpm) {
        return evaluate(p, prediction, payload, divergent, tpm, new StepClock());
    }

    /** As {@link #evaluate(Prepared, Prediction, Payload, List, PublicAreaReader)}, its steps timed on {@code clock}. */
    public static Evaluation evaluate(Prepared p, Prediction prediction, Payload payload, List<Divergent> divergent,
                                      PublicAreaReader tpm, StepClock clock) {
        PolicyFile policy = p.policy();
        List<Finding> findings = new ArrayList<>();

        PayloadCheck.Result trust;
        if (payload.pe() == null) {
            // a commit at shutdown: the images were checked when the boot was prepared, and are the same now
            trust = new PayloadCheck.Result(List.of(), List.of("payload trust: decided when the boot was prepared"));
        } else {
            List<PayloadCheck.Image> images = payload.images().isEmpty()
                    ? List.of(new PayloadCheck.Image("the payload", payload.authenticodeSha256(), payload.pe().data()))
                    : payload.images();
            trust = PayloadCheck.check(policy.payload(), p.anchors(), images);
        }
        clock.mark("payloadTrust");
        for (String f : trust.failures()) findings.add(Finding.deny("payload: " + f));
        findings.addAll(chainExtends(policy, payload.chainExtends()));

        if (policy.measurement().banks() != null) {
            for (HashAlg b : policy.measurement().banks()) {
                if (!prediction.banks().contains(b)) {
                    findings.add(Finding.deny("measurement: the policy requires the " + b.tpmName + " bank, which the TPM does not have active "
                            + "(active: " + prediction.banks().stream().map(a -> a.tpmName).toList() + ")"));
                }
            }
        }

        Set<Integer> tolerated = policy.measurement().tolerateDivergent();
        Set<Integer> seen = new TreeSet<>();
        for (Divergent d : divergent) {
            if (!seen.add(d.pcr())) continue;
            String text = "PCR " + d.pcr() + " " + d.bank().tpmName + " already disagrees with the firmware log (TPM "
                    + Hex.of(d.tpm()) + ", log replay " + Hex.of(d.logReplay()) + ")"
                    + (d.explanation() != null ? ": " + d.explanation() : "");
            if (tolerated.contains(d.pcr())) {
                findings.add(Finding.warn(text + "; tolerated by the policy (measurement.tolerate-divergent)"));
            } else {
                findings.add(Finding.deny(text + "; the firmware log does not explain the TPM, and the policy does not "
                        + "tolerate it (measurement.tolerate-divergent)"));
            }
        }

        clock.mark("findings");

        SignatureCatalog catalog = new SignatureCatalog();
        for (SignatureCatalog.Source s : p.signatures().sources()) catalog.add(s.label(), s.signatures());
        if (payload.pcrsig() != null) catalog.add("the payload's .pcrsig", payload.pcrsig());
        Reauthorizer.Result reauth = null;
        if (policy.reauthorize() != null) {
            reauth = p.signingKey() != null ? Reauthorizer.sign(policy.reauthorize(), prediction, p.secrets(), p.signingKey())
                    : Reauthorizer.sign(policy.reauthorize(), prediction, p.secrets());
            catalog.add("re-authorization by " + policy.reauthorize().signingKey().getFileName(), reauth.signatures());
        }

        clock.mark("reauthorization");

        SecretEvaluator ev = new SecretEvaluator(prediction, policy.measurement().nextBootPhases(), catalog, tpm);
        List<SecretVerdict> verdicts = new ArrayList<>();
        for (int i = 0; i < policy.secrets().size(); i++) {
            PolicyFile.Secret spec = policy.secrets().get(i);
            SecretVerdict v = ev.evaluate(spec, p.secrets().get(i));
            verdicts.add(v);
            if (!v.meetsIntent()) {
                String text = "secret '" + spec.name() + "' must remain " + spec.mustRemain().word() + ", but it is "
                        + v.verdict().word() + " after the kexec: " + v.reason();
                findings.add(policy.decision().forIntent(spec.mustRemain()) == PolicyFile.Action.DENY
                        ? Finding.deny(text) : Finding.warn(text));
            }
        }
        clock.mark("verdicts");
        return new Evaluation(policy.id(), trust, divergent, tolerated, verdicts, reauth, findings);
    }
}
