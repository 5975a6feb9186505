package org.kexecmeasured.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.policy.engine.Prediction;
import org.kexecmeasured.policy.engine.SecretVerdict;
import org.kexecmeasured.policy.engine.Verdict;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyParser;
import org.kexecmeasured.policy.testing.SecretClients;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.TssTpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's verdicts against the secrets' own clients, on a real swtpm: secrets sealed by
 * tpm2-tools, systemd-cryptenroll (PCR policy and signed PCR 11 policy) and clevis (a LUKS2 token
 * and a JWE file) are evaluated for a set of planned extends (a boundary record in the default
 * boundary PCRs, then a payload measurement in PCR 11); then exactly those extends go to the TPM
 * and each client tries to open its secret. The verdict must equal the outcome, in both directions.
 * Re-authorization is checked the same way (and its JSON against systemd-measure sign's).
 */
@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha1", "sha256"})
class SecretVerdictOracleTest {

    static Map<HashAlg, byte[]> digests(List<HashAlg> banks, String text) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        for (HashAlg a : banks) m.put(a, a.digest(text.getBytes(StandardCharsets.UTF_8)));
        return m;
    }

    @Test
    void verdictsEqualWhatTheClientsCanOpen(Swtpm swtpm, @TempDir Path dir) throws Exception {
        SecretClients c = new SecretClients(swtpm, dir);
        List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256);
        // a booted system: PCR 7 (Secure Boot state) and PCR 11 (a UKI and systemd's phases) hold values
        try (TssTpm tpm = swtpm.open()) {
            tpm.extend(7, digests(banks, "secure boot policy"));
            tpm.extend(11, digests(banks, "first boot's UKI"));
            tpm.extend(11, digests(banks, "enter-initrd"));
        }
        byte[] secretA = "secret a: sealed to PCR 7".getBytes(StandardCharsets.UTF_8);
        byte[] secretB = "secret b: sealed to PCR 7+11".getBytes(StandardCharsets.UTF_8);
        byte[] secretF = "secret f: clevis sha1 7,11".getBytes(StandardCharsets.UTF_8);
        SecretClients.SixSecrets six = c.sealSix(secretA, secretB, secretF);
        Path[] a = six.a(), b = six.b();
        Path imgC = six.imgC(), imgD = six.imgD(), imgE = six.imgE(), jweF = six.jweF();
        Path key = six.signing().key(), pub = six.signing().pub();

        Path policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, String.join("\n",
                "version: 1",
                "secrets:",
                "  - {name: a, must-remain: any, source: {tpm2-object: {public: a.pub, private: a.priv, pcrs: 'sha256:7'}}}",
                "  - {name: b, must-remain: any, source: {tpm2-object: {public: b.pub, private: b.priv, pcrs: 'sha256:7,11'}}}",
                "  - {name: c, must-remain: any, source: {luks2: c.img}}",
                "  - {name: d, must-remain: any, source: {luks2: d.img}}",
                "  - {name: e, must-remain: any, source: {luks2: e.img}}",
                "  - {name: f, must-remain: any, source: {clevis-jwe: f.jwe}}",
                "reauthorize: {signing-key: pcr-signing.pem, secrets: [d]}",
                ""));
        PolicyFile policy = PolicyParser.read(policyFile);

        // the plan: boundary records, then a payload measurement into PCR 11
        List<Prediction.Extend> plan = new ArrayList<>();
        for (int pcr : List.of(4, 5, 9, 11, 12, 13)) plan.add(new Prediction.Extend(pcr, digests(banks, "boundary"), "the kexec boundary", true));
        plan.add(new Prediction.Extend(11, digests(banks, "payload .linux"), "a payload measurement", false));
        PeFile payload = PeFile.parse(RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi")));

        PolicyEngine.Evaluation ev;
        try (TssTpm tpm = swtpm.open()) {
            Map<HashAlg, byte[][]> before = tpm.readPcrs(PcrSelection.of(banks, IntStream.range(0, 24).boxed().toList()));
            Prediction prediction = Prediction.of(banks, before, plan);
            PolicyEngine.Prepared prepared = PolicyEngine.prepare(policy, tpm);
            ev = PolicyEngine.evaluate(prepared, prediction,
                    new PolicyEngine.Payload(payload, new byte[32], List.of(), null), List.of(), tpm);
            // carry the plan out
            for (Prediction.Extend e : plan) tpm.extend(e.pcr(), e.digests());
            // predicted = reality: the TPM now holds the prediction's kernel-start state
            Map<HashAlg, byte[][]> now = tpm.readPcrs(PcrSelection.of(banks, IntStream.range(0, 24).boxed().toList()));
            for (HashAlg bank : banks) for (int p = 0; p < 24; p++) {
                assertArrayEquals(prediction.after().values().get(bank)[p], now.get(bank)[p], bank.tpmName + " PCR " + p);
            }
        }
        // PCR 11 at the kernel's start, read by an independent reader
        String pcr11AtKernelStart = Tpm2Tools.pcrread(swtpm.tcti(), "sha256:11").get("sha256").get(11);
        Map<String, SecretVerdict> v = new java.util.HashMap<>();
        for (SecretVerdict s : ev.secrets()) v.put(s.name(), s);

        // the clients, after the kexec's extends (kernel start: no phase yet)
        byte[] openA = c.tpm2Unseal(a, "sha256:7");
        byte[] openB = c.tpm2Unseal(b, "sha256:7,11");
        boolean openC = c.tokenPluginOpens(imgC, null);
        Path sigFile = dir.resolve("tpm2-pcr-signature.json");
        Files.write(sigFile, ev.reauthorization().json());
        boolean openDkernel = c.tokenPluginOpens(imgD, sigFile);
        byte[] passE = c.clevisPass(imgE, 1);
        byte[] openF = c.clevisDecrypt(Files.readString(jweF));

        assertOutcome(v.get("a"), openA != null, "tpm2_unseal");
        if (openA != null) assertArrayEquals(secretA, openA);
        assertOutcome(v.get("b"), openB != null, "tpm2_unseal");
        assertOutcome(v.get("c"), openC, "systemd's token plugin");
        assertOutcome(v.get("e"), passE != null && c.passphraseOpens(imgE, passE), "clevis luks pass + cryptsetup");
        assertOutcome(v.get("f"), openF != null, "clevis decrypt");
        // the signed policy: signed for the phases, not for the kernel's start
        SecretVerdict.RouteVerdict d = v.get("d").routes().get(0);
        assertEquals(d.reachableAt().contains("when the next kernel starts"), openDkernel,
                "token d at kernel start: engine " + d + " vs token plugin " + openDkernel);

        // the next system enters its initrd: systemd-pcrphase extends "enter-initrd" into PCR 11
        try (TssTpm tpm = swtpm.open()) {
            tpm.extend(11, digests(banks, "enter-initrd"));
        }
        boolean openDinitrd = c.tokenPluginOpens(imgD, sigFile);
        String dOut = c.lastOutput() + "\nsignature: " + new String(ev.reauthorization().json(), StandardCharsets.UTF_8)
                + "\ntoken: " + c.exportToken(imgD, 0) + "\nTPM PCR 11 now: " + Tpm2Tools.pcrread(swtpm.tcti(), "sha256:11")
                + "\nsigned: " + ev.reauthorization().signed();
        boolean openDwithout = c.tokenPluginOpens(imgD, null);
        assertEquals(d.reachableAt().contains("at phase enter-initrd"), openDinitrd, "token d in the initrd: engine " + d + "\n" + dOut);
        assertTrue(openDinitrd, "the re-authorized token opens in the initrd");
        assertFalse(openDwithout, "and only with the new signature");

        // coverage: both outcomes occurred, with reasons in words
        assertEquals(Verdict.REACHABLE, v.get("a").verdict(), v.get("a").reason());
        assertEquals(Verdict.UNREACHABLE, v.get("b").verdict(), v.get("b").reason());
        assertTrue(v.get("b").reason().contains("PCR 11 sha256 predicted") && v.get("b").reason().contains("the kexec boundary changes PCR 11"),
                v.get("b").reason());
        assertEquals(Verdict.UNREACHABLE, v.get("c").verdict(), v.get("c").reason());
        assertEquals(Verdict.REACHABLE, v.get("e").verdict(), v.get("e").reason());
        assertEquals(Verdict.UNREACHABLE, v.get("f").verdict(), v.get("f").reason());
        assertTrue(v.get("f").reason().contains("sha1"), v.get("f").reason());

        // the signature format: systemd-measure sign --current over the PCR 11 the TPM held at kernel start
        String theirs = c.systemdMeasureSign("sha256", pcr11AtKernelStart, key, pub, PolicyParser.DEFAULT_PHASES);
        assertEquals(Json.MAPPER.readTree(theirs), Json.MAPPER.readTree(ev.reauthorization().json()),
                "our tpm2-pcr-signature.json equals systemd-measure sign's");
        // the manifest's record of what was signed names that value
        assertTrue(ev.reauthorization().signed().stream().allMatch(x -> x.pcrValues().size() == 1), ev.reauthorization().signed().toString());
    }

    static void assertOutcome(SecretVerdict v, boolean opened, String client) {
        assertNotNull(v);
        assertEquals(v.verdict() == Verdict.REACHABLE, opened, "secret " + v.name() + ": engine says " + v.verdict().word()
                + " (" + v.reason() + "), " + client + " " + (opened ? "opened it" : "could not open it"));
        assertTrue(v.verdict() != Verdict.UNKNOWN, "secret " + v.name() + " has a definite verdict: " + v.reason());
    }
}
