package org.kexecmeasured.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.policy.engine.Prediction;
import org.kexecmeasured.policy.engine.SecretEvaluator;
import org.kexecmeasured.policy.engine.SecretVerdict;
import org.kexecmeasured.policy.engine.SignatureCatalog;
import org.kexecmeasured.policy.engine.Verdict;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.secret.SealedSecret;
import org.kexecmeasured.policy.secret.SecretReader;
import org.kexecmeasured.policy.testing.SecretClients;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.TssTpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An NV index readable under a PCR policy (tpm2_nvdefine -a policyread -L): its public area is read
 * with TPM2_NV_ReadPublic, the verdict for the planned extends equals whether tpm2_nvread then
 * reads it through a PolicyPCR session, in both directions.
 */
@ExtendWith(SwtpmExtension.class)
class NvSecretTest {

    @Test
    void nvVerdictsEqualTpm2Nvread(Swtpm swtpm, @TempDir Path dir) throws Exception {
        SecretClients c = new SecretClients(swtpm, dir);
        List<HashAlg> banks = List.of(HashAlg.SHA256);
        Map<HashAlg, byte[]> boundary = new EnumMap<>(HashAlg.class);
        boundary.put(HashAlg.SHA256, HashAlg.SHA256.digest("boundary".getBytes(StandardCharsets.UTF_8)));
        try (TssTpm tpm = swtpm.open()) {
            tpm.extend(11, boundary);
        }
        byte[] data = "nv secret".getBytes(StandardCharsets.UTF_8);
        c.nvDefine("0x01800010", "sha256:7", data);
        c.nvDefine("0x01800011", "sha256:7,11", data);
        Map<String, Verdict> verdicts = new java.util.HashMap<>();
        List<Prediction.Extend> plan = List.of(new Prediction.Extend(11, boundary, "the kexec boundary", true));
        try (TssTpm tpm = swtpm.open()) {
            Map<HashAlg, byte[][]> before = tpm.readPcrs(PcrSelection.of(banks, IntStream.range(0, 24).boxed().toList()));
            Prediction p = Prediction.of(banks, before, plan);
            SecretReader reader = new SecretReader(tpm);
            for (String[] s : List.of(new String[]{"0x01800010", "sha256:7"}, new String[]{"0x01800011", "sha256:7,11"})) {
                PolicyFile.Secret spec = new PolicyFile.Secret(s[0], new PolicyFile.Tpm2NvSource(Integer.decode(s[0]),
                        PcrSelection.parse(s[1]), false), PolicyFile.Intent.ANY, 1);
                SealedSecret secret = reader.read(spec);
                SecretVerdict v = new SecretEvaluator(p, List.of(), new SignatureCatalog(), tpm).evaluate(spec, secret);
                verdicts.put(s[0], v.verdict());
                assertTrue(v.verdict() != Verdict.UNKNOWN, v.reason());
            }
            for (Prediction.Extend e : plan) tpm.extend(e.pcr(), e.digests());
        }
        byte[] r7 = c.nvReadWithPolicy("0x01800010", "sha256:7");
        byte[] r711 = c.nvReadWithPolicy("0x01800011", "sha256:7,11");
        assertEquals(verdicts.get("0x01800010") == Verdict.REACHABLE, r7 != null, "PCR 7 index: " + verdicts);
        assertEquals(verdicts.get("0x01800011") == Verdict.REACHABLE, r711 != null, "PCR 7+11 index: " + verdicts);
        assertArrayEquals(data, r7);
        assertEquals(Verdict.UNREACHABLE, verdicts.get("0x01800011"));
    }
}
