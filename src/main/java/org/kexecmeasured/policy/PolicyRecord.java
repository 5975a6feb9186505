package org.kexecmeasured.policy;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.kexecmeasured.policy.engine.SecretVerdict;
import org.kexecmeasured.policy.reauth.Reauthorizer;

import java.util.List;

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

    public static PolicyRecord of(PolicyEngine.Evaluation ev) {
        List<Finding> findings = ev.findings().stream().map(f -> new Finding(f.action(), f.text())).toList();
        List<Secret> secrets = ev.secrets().stream().map(PolicyRecord::secret).toList();
        Reauthorization r = ev.reauthorization() == null ? null
                : new Reauthorization("/.extra/" + Reauthorizer.FILE_NAME, ev.reauthorization().keyFingerprint(),
                ev.reauthorization().secrets(), ev.reauthorization().signed());
        return new PolicyRecord(ev.policyId(), ev.allowed(), findings,
                new Payload(ev.payload().trusted(), ev.payload().failures(), ev.payload().checked()), secrets, r);
    }

    static Secret secret(SecretVerdict v) {
        List<Route> routes = v.routes().stream().map(r -> new Route(r.route(), r.verdict().word(), r.reason(), r.reachableAt(), r.notes())).toList();
        return new Secret(v.name(), v.source(), v.intent().word(), v.verdict().word(), v.meetsIntent(), v.reason(), routes, v.notes());
    }
}
