package org.kexecmeasured.policy.engine;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.policy.secret.PolicyStep;
import org.kexecmeasured.policy.secret.UnlockRoute;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.tpm.policy.TpmNames;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reasons the engine gives for a signed PCR policy (systemd's tpm2_pubkey tokens): a UKI's
 * .pcrsig signs a first boot's PCR 11, so after the kexec boundary no signature covers the
 * predicted value, and the reason names both values and what changed PCR 11; a signature over the
 * predicted value makes it reachable at exactly the phases signed; a signature that does not
 * verify never counts. (That these signatures are what systemd accepts is checked against its
 * token plugin in SecretVerdictOracleTest.)
 */
class SignedPolicyReasonTest {

    static Map<HashAlg, byte[]> sha256(String s) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        m.put(HashAlg.SHA256, HashAlg.SHA256.digest(s.getBytes(StandardCharsets.UTF_8)));
        return m;
    }

    static PcrSignatures.Entry sign(KeyPair k, Prediction.State s) throws Exception {
        byte[] pol = PolicyDigest.start(HashAlg.SHA256).policyPcr(PcrSelection.of(HashAlg.SHA256, 11), s.values()).digest();
        Signature sig = Signature.getInstance("SHA256withRSA");
        sig.initSign(k.getPrivate());
        sig.update(pol);
        return new PcrSignatures.Entry(List.of(11), Hex.of(SignatureCatalog.fingerprint(k.getPublic())), Hex.of(pol),
                Base64.getEncoder().encodeToString(sig.sign()));
    }

    @Test
    void reasonsForSignedPolicies() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair k = g.generateKeyPair();
        List<HashAlg> banks = List.of(HashAlg.SHA256);
        byte[][] before = new byte[24][];
        for (int i = 0; i < 24; i++) before[i] = new byte[32];
        before[7] = HashAlg.SHA256.digest("secure boot".getBytes());
        before[11] = HashAlg.SHA256.digest("previous boot".getBytes());
        Prediction p = Prediction.of(banks, Map.of(HashAlg.SHA256, before), List.of(
                new Prediction.Extend(11, sha256("boundary"), "the kexec boundary", true),
                new Prediction.Extend(11, sha256(".linux"), "payload measurement", false),
                new Prediction.Extend(11, sha256(".osrel"), "payload measurement", false)));
        List<String> phases = List.of("enter-initrd", "enter-initrd:leave-initrd");

        // systemd's session: PolicyPCR(11) → PolicyAuthorize(key) → PolicyPCR(7)
        byte[] keyName = TpmNames.name(HashAlg.SHA256, TpmNames.publicArea(k.getPublic(), HashAlg.SHA256, TpmNames.EXTERNAL_KEY_ATTRIBUTES));
        byte[] authPolicy = PolicyDigest.start(HashAlg.SHA256).policyAuthorize(keyName, new byte[0])
                .policyPcr(PcrSelection.of(HashAlg.SHA256, 7), Map.of(HashAlg.SHA256, before)).digest();
        UnlockRoute r = new UnlockRoute("token 0", HashAlg.SHA256, authPolicy, null, List.of(
                new PolicyStep.Pcr(PcrSelection.of(HashAlg.SHA256, 11)),
                new PolicyStep.Authorize(k.getPublic(), HashAlg.SHA256, new byte[0], HashAlg.SHA256, List.of(11)),
                new PolicyStep.Pcr(PcrSelection.of(HashAlg.SHA256, 7))), true, false, List.of());

        // the payload's .pcrsig: signed for a first boot of it, each phase
        PcrSignatures pcrsig = new PcrSignatures(Map.of("sha256", List.of(sign(k, p.pristine("enter-initrd")),
                sign(k, p.pristine("enter-initrd:leave-initrd")))));
        SecretVerdict.RouteVerdict v = new SecretEvaluator(p, phases, new SignatureCatalog().add("the payload's .pcrsig", pcrsig), null).evaluate(r);
        assertEquals(Verdict.UNREACHABLE, v.verdict(), v.reason());
        String predicted = Hex.of(p.afterPhase("enter-initrd").values().get(HashAlg.SHA256)[11]);
        String signed = Hex.of(p.pristine("enter-initrd").values().get(HashAlg.SHA256)[11]);
        assertTrue(v.reason().startsWith("PCR 11 sha256 predicted " + predicted + " ≠ signed " + signed
                + " (the payload's .pcrsig: a first boot of this payload, phase enter-initrd): the kexec boundary changes PCR 11 "
                + "(then 2 payload measurements)"), v.reason());

        // no signature at all
        v = new SecretEvaluator(p, phases, new SignatureCatalog(), null).evaluate(r);
        assertEquals(Verdict.UNREACHABLE, v.verdict());
        assertTrue(v.reason().contains("no signature by key") && v.reason().contains("(no signature files at all)"), v.reason());

        // a signature over the predicted value of one phase: reachable there only
        PcrSignatures reauth = new PcrSignatures(Map.of("sha256", List.of(sign(k, p.afterPhase("enter-initrd:leave-initrd")))));
        v = new SecretEvaluator(p, phases, new SignatureCatalog().add("re-authorization", reauth), null).evaluate(r);
        assertEquals(Verdict.REACHABLE, v.verdict(), v.reason());
        assertEquals(List.of("at phase enter-initrd:leave-initrd"), v.reachableAt());

        // the same entry with a damaged signature does not count
        PcrSignatures.Entry good = reauth.bank("sha256").get(0);
        byte[] s = Base64.getDecoder().decode(good.sig());
        s[10] ^= 1;
        PcrSignatures bad = new PcrSignatures(Map.of("sha256", List.of(new PcrSignatures.Entry(good.pcrs(), good.pkfp(), good.pol(),
                Base64.getEncoder().encodeToString(s)))));
        v = new SecretEvaluator(p, phases, new SignatureCatalog().add("tampered", bad), null).evaluate(r);
        assertEquals(Verdict.UNREACHABLE, v.verdict(), v.reason());
        assertTrue(v.reason().contains("do not verify"), v.reason());

        // a signature for the right values by another key does not count either
        KeyPair other = g.generateKeyPair();
        PcrSignatures byOther = new PcrSignatures(Map.of("sha256", List.of(sign(other, p.afterPhase("enter-initrd")))));
        v = new SecretEvaluator(p, phases, new SignatureCatalog().add("other key", byOther), null).evaluate(r);
        assertEquals(Verdict.UNREACHABLE, v.verdict());
        assertTrue(v.reason().contains("no signature by key " + Hex.of(SignatureCatalog.fingerprint(k.getPublic())).substring(0, 16)), v.reason());
    }
}
