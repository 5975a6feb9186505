package org.kexecmeasured.tpm;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.tpm.policy.ApprovedPolicy;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.tpm.policy.PolicyOrTree;
import org.kexecmeasured.tpm.policy.TpmNames;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Our pure-Java policy digests against two independent computations on the same swtpm: the TPM's
 * own trial sessions (TPM2_PolicyGetDigest) and tpm2-tools (tpm2_policy* -L in trial sessions).
 */
@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha1", "sha256"})
class PolicyDigestTpmTest {
    @TempDir
    static Path tmp;
    static KeyPair rsa;

    @BeforeAll
    static void extendSomePcrs(Swtpm swtpm) throws Exception {
        try (Tpm tpm = swtpm.open()) {
            for (int pcr : new int[]{0, 7, 11}) {
                Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
                for (HashAlg a : tpm.banks()) d.put(a, a.digest(("event for " + pcr).getBytes()));
                tpm.extend(pcr, d);
            }
        }
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        rsa = g.generateKeyPair();
    }

    private static Map<HashAlg, byte[][]> read(Swtpm swtpm, PcrSelection sel) {
        try (Tpm tpm = swtpm.open()) {
            return tpm.readPcrs(sel);
        }
    }

    /** Runs tpm2-tools policy commands in one trial session and returns the final -L digest. */
    private static String toolsTrial(Swtpm swtpm, String name, String[]... steps) throws IOException {
        Path ses = tmp.resolve(name + ".session");
        Path out = tmp.resolve(name + ".policy");
        Tpm2Tools.run(swtpm.tcti(), "tpm2_startauthsession", "-S", ses.toString());
        try {
            for (String[] step : steps) {
                List<String> a = new ArrayList<>(List.of(step).subList(1, step.length));
                a.addAll(List.of("-S", ses.toString(), "-L", out.toString()));
                Tpm2Tools.run(swtpm.tcti(), step[0], a.toArray(new String[0]));
            }
        } finally {
            Tpm2Tools.run(swtpm.tcti(), "tpm2_flushcontext", ses.toString());
        }
        return Hex.of(Files.readAllBytes(out));
    }

    private interface Steps {
        void apply(PolicySession s);
    }

    private static String tpmTrial(Swtpm swtpm, Steps steps) {
        try (Tpm tpm = swtpm.open(); PolicySession s = tpm.startPolicySession(HashAlg.SHA256, true)) {
            steps.apply(s);
            return Hex.of(s.digest());
        }
    }

    @Test
    void policyPcrSevenEleven(Swtpm swtpm) throws IOException {
        PcrSelection sel = PcrSelection.of(HashAlg.SHA256, 7, 11);
        String ours = PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, read(swtpm, sel)).toString().substring(7);
        assertEquals(tpmTrial(swtpm, s -> s.policyPcr(sel)), ours, "TPM trial session");
        assertEquals(toolsTrial(swtpm, "pcr", new String[]{"tpm2_policypcr", "-l", "sha256:7,11"}), ours, "tpm2_policypcr");
        assertNotEquals(Hex.of(PolicyDigest.start(HashAlg.SHA256).digest()), ours);
    }

    @Test
    void policyPcrAcrossBanksKeepsSelectionOrder(Swtpm swtpm) throws IOException {
        PcrSelection sel = PcrSelection.parse("sha1:0,7+sha256:11");
        String ours = Hex.of(PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, read(swtpm, sel)).digest());
        assertEquals(tpmTrial(swtpm, s -> s.policyPcr(sel)), ours, "TPM trial session");
        assertEquals(toolsTrial(swtpm, "pcr2", new String[]{"tpm2_policypcr", "-l", "sha1:0,7+sha256:11"}), ours, "tpm2_policypcr");
    }

    @Test
    void policyAuthValueAndChain(Swtpm swtpm) throws IOException {
        String ours = Hex.of(PolicyDigest.start(HashAlg.SHA256).policyAuthValue().digest());
        assertEquals(tpmTrial(swtpm, PolicySession::policyAuthValue), ours, "TPM trial session");
        assertEquals(toolsTrial(swtpm, "av", new String[]{"tpm2_policyauthvalue"}), ours, "tpm2_policyauthvalue");

        PcrSelection sel = PcrSelection.of(HashAlg.SHA256, 7);
        String chain = Hex.of(PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, read(swtpm, sel)).policyAuthValue().digest());
        assertEquals(tpmTrial(swtpm, s -> {
            s.policyPcr(sel);
            s.policyAuthValue();
        }), chain);
        assertEquals(toolsTrial(swtpm, "chain", new String[]{"tpm2_policypcr", "-l", "sha256:7"},
                new String[]{"tpm2_policyauthvalue"}), chain, "tpm2_policypcr + tpm2_policyauthvalue");
    }

    @Test
    void policyOrOfThreeBranches(Swtpm swtpm) throws IOException {
        List<byte[]> branches = new ArrayList<>();
        List<String> files = new ArrayList<>();
        for (int pcr : new int[]{0, 7, 11}) {
            PcrSelection sel = PcrSelection.of(HashAlg.SHA256, pcr);
            byte[] d = PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, read(swtpm, sel)).digest();
            branches.add(d);
            Path f = tmp.resolve("branch" + pcr);
            Files.write(f, d);
            files.add(f.toString());
        }
        String ours = Hex.of(PolicyDigest.or(HashAlg.SHA256, branches).digest());
        // a real (not trial) session: the TPM checks that PolicyPCR(7) reached one of the branches
        try (Tpm tpm = swtpm.open(); PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
            s.policyPcr(PcrSelection.of(HashAlg.SHA256, 7));
            s.policyOr(branches);
            assertEquals(ours, Hex.of(s.digest()), "TPM policy session");
        }
        assertEquals(toolsTrial(swtpm, "or", new String[]{"tpm2_policyor", "-l", "sha256:" + String.join(",", files)}), ours,
                "tpm2_policyor");
        assertEquals(ours, Hex.of(PolicyDigest.start(HashAlg.SHA256).policyPcr(PcrSelection.of(HashAlg.SHA256, 11),
                read(swtpm, PcrSelection.of(HashAlg.SHA256, 11))).policyOr(branches).digest()), "policyOr from a member");
    }

    @Test
    void policyOrTreeOfTenBranchesWalkedByTheTpm(Swtpm swtpm) {
        // 10 alternatives: PolicyPCR on each of PCRs 0..9 (current values, so each is reachable)
        List<byte[]> leaves = new ArrayList<>();
        for (int pcr = 0; pcr < 10; pcr++) {
            PcrSelection sel = PcrSelection.of(HashAlg.SHA256, pcr);
            leaves.add(PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, read(swtpm, sel)).digest());
        }
        PolicyOrTree tree = new PolicyOrTree(HashAlg.SHA256, leaves);
        for (int leaf : new int[]{0, 7, 8, 9}) {
            try (Tpm tpm = swtpm.open(); PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PcrSelection.of(HashAlg.SHA256, leaf));
                for (List<byte[]> or : tree.path(leaf)) s.policyOr(or);
                assertEquals(Hex.of(tree.root()), Hex.of(s.digest()), "root reached from leaf " + leaf);
            }
        }
    }

    @Test
    void policyAuthorizeWithKeyName(Swtpm swtpm) throws Exception {
        byte[] ref = "kexec-measured".getBytes();
        byte[] name = TpmNames.externalKeyName(rsa.getPublic());
        String ours = Hex.of(ApprovedPolicy.authorizedPolicy(HashAlg.SHA256, rsa.getPublic(), ref));
        assertEquals(tpmTrial(swtpm, s -> s.policyAuthorizeTrial(name, ref)), ours, "TPM trial session");

        // tpm2-tools: key name from tpm2_loadexternal (the TPM hashes the public area it builds from the PEM)
        Path pem = tmp.resolve("key.pem");
        Files.writeString(pem, "-----BEGIN PUBLIC KEY-----\n"
                + java.util.Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(rsa.getPublic().getEncoded())
                + "\n-----END PUBLIC KEY-----\n");
        Path nameFile = tmp.resolve("key.name");
        Path ctx = tmp.resolve("key.ctx");
        Tpm2Tools.run(swtpm.tcti(), "tpm2_loadexternal", "-C", "o", "-G", "rsa", "-u", pem.toString(),
                "-c", ctx.toString(), "-n", nameFile.toString());
        Tpm2Tools.run(swtpm.tcti(), "tpm2_flushcontext", "-t");
        assertEquals(Hex.of(Files.readAllBytes(nameFile)), Hex.of(name), "key Name per tpm2_loadexternal");
        Path approved = tmp.resolve("approved");
        Files.write(approved, new byte[32]);
        Path refFile = tmp.resolve("ref");
        Files.write(refFile, ref);
        assertEquals(toolsTrial(swtpm, "auth", new String[]{"tpm2_policyauthorize", "-i", approved.toString(),
                "-q", refFile.toString(), "-n", nameFile.toString()}), ours, "tpm2_policyauthorize");
    }
}
