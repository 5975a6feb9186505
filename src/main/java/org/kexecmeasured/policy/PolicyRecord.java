package org.kexecmeasured.policy;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.kexecmeasured.policy.engine.SecretVerdict;
import org.kexecmeasured.policy.reauth.Reauthorizer;
import org.kexecmeasured.util.Json;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The policy's evaluation as written into the sidecar manifest ({@code policyDecision}) and into
 * {@code predict --json}: the decision with its findings, payload checks, every secret's verdict
 * with its reason and routes, and the re-authorization's signed values. Specified in
 * {@code tcg2/sidecar.md}.
 */
@JsonPropertyOrder({"policy", "allowed", "findings", "payload", "secrets", "reauthorization"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PolicyRecord(String policy, boolean allowed, List<Finding> findings, Payload payload, List<Secret> secrets,
                           Reauthorization reauthorization) {

    @JsonPropertyOrder({"action", "text"})
    public record Finding(String action, String text) {
    }

    @JsonPropertyOrder({"trusted", "failures", "checked"})
    public record Payload(boolean trusted, List<String> failures, List<String> checked) {
    }

    @JsonPropertyOrder({"name", "source", "mustRemain", "verdict", "meetsIntent", "reason", "routes", "notes"})
    public record Secret(String name, String source, String mustRemain, String verdict, boolean meetsIntent, String reason,
                         List<Route> routes, List<String> notes) {
    }

    @JsonPropertyOrder({"route", "verdict", "reason", "reachableAt", "notes"})
    public record Route(String route, String verdict, String reason, List<String> reachableAt, List<String> notes) {
    }

    /** @param file where the next system finds the signature ({@code /.extra/tpm2-pcr-signature.json}) */
    @JsonPropertyOrder({"file", "keyFingerprint", "secrets", "signed"})
    public record Reauthorization(String file, String keyFingerprint, List<String> secrets, List<Reauthorizer.Signed> signed) {
    }

    /**
     * A made-up record with every part (findings, payload, secrets with routes, a re-authorization), written as
     * the decision's record is built ({@code Json.MAPPER.valueToTree}), and a made-up re-authorization signature file
     * as {@link org.kexecmeasured.policy.engine.PcrSignatures#toJson} writes it, for the side effect on the JVM only: Jackson's
     * serializers of these records are built and their code past its first, interpreted run before a decision needs
     * them (a prediction's second thread calls this while the boot is planned). Returns the record for
     * more of the same (e.g. inside a report).
     */
    public static PolicyRecord warmUp() {
        List<String> phases = List.of("enter-initrd", "enter-initrd:leave-initrd");
        Route route = new Route("token 0", "reachable", "the policy is satisfied enter-initrd", phases, List.of("note"));
        List<Secret> secrets = List.of(new Secret("a", "luks2 a.img", "any", "reachable", true, "reason", List.of(route), List.of()),
                new Secret("b", "tpm2-object b.pub", "reachable", "unreachable", false, "reason", List.of(route, route), List.of("n")));
        Reauthorization reauth = new Reauthorization("/.extra/" + Reauthorizer.FILE_NAME, "00", List.of("a"),
                List.of(new Reauthorizer.Signed("sha256", phases.get(0), Map.of("11", "00"), "00")));
        PolicyRecord r = new PolicyRecord("00", false, List.of(new Finding("deny", "text")), new Payload(true, List.of(), List.of("x")),
                secrets, reauth);
        Json.MAPPER.valueToTree(r);
        // and the re-authorization's signature file, which the evaluation writes before the record
        new org.kexecmeasured.policy.engine.PcrSignatures(Map.of("sha256",
                List.of(new org.kexecmeasured.policy.engine.PcrSignatures.Entry(List.of(11), "00", "00", "AA==")))).toJson();
        return r;
    }

    // loops, not streams: each lambda's first call links it (invokedynamic), milliseconds on a cold JVM's main thread
    public static PolicyRecord of(PolicyEngine.Evaluation ev) {
        List<Finding> findings = new ArrayList<>();
        for (PolicyEngine.Finding f : ev.findings()) findings.add(new Finding(f.action(), f.text()));
        List<Secret> secrets = new ArrayList<>();
        for (SecretVerdict v : ev.secrets()) secrets.add(secret(v));
        Reauthorization r = ev.reauthorization() == null ? null
                : new Reauthorization("/.extra/" + Reauthorizer.FILE_NAME, ev.reauthorization().keyFingerprint(),
                ev.reauthorization().secrets(), ev.reauthorization().signed());
        return new PolicyRecord(ev.policyId(), ev.allowed(), List.copyOf(findings),
                new Payload(ev.payload().trusted(), ev.payload().failures(), ev.payload().checked()), List.copyOf(secrets), r);
    }

    static Secret secret(SecretVerdict v) {
        List<Route> routes = new ArrayList<>();
        for (SecretVerdict.RouteVerdict r : v.routes()) {
            routes.add(new Route(r.route(), r.verdict().word(), r.reason(), r.reachableAt(), r.notes()));
        }
        return new Secret(v.name(), v.source(), v.intent().word(), v.verdict().word(), v.meetsIntent(), v.reason(), List.copyOf(routes),
                v.notes());
    }
}
