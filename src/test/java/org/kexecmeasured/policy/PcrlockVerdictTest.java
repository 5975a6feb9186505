package org.kexecmeasured.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.policy.engine.Prediction;
import org.kexecmeasured.policy.engine.SecretEvaluator;
import org.kexecmeasured.policy.engine.SecretVerdict;
import org.kexecmeasured.policy.engine.SignatureCatalog;
import org.kexecmeasured.policy.engine.Verdict;
import org.kexecmeasured.policy.secret.PcrlockPolicy;
import org.kexecmeasured.policy.secret.PolicyStep;
import org.kexecmeasured.policy.secret.UnlockRoute;
import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PolicySession;
import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.tpm.TpmCommandException;
import org.kexecmeasured.tpm.TssTpm;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import tss.tpm.TPMA_NV;
import tss.tpm.TPMS_NV_PUBLIC;
import tss.tpm.TPM_ALG_ID;
import tss.tpm.TPM_HANDLE;
import tss.tpm.TPM_RH;

import java.nio.ByteBuffer;
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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * systemd-pcrlock's policy (PolicyAuthorizeNV over an NV index holding a "super PCR" policy: one
 * PolicyPCR over single-valued PCRs, then a PolicyOR per PCR with alternatives): the digest the
 * engine derives from pcrlock.json equals what a real policy session on the TPM reaches, and the
 * verdict equals whether the TPM unseals after the planned extends — in both directions. Without
 * the NV index readable, or without pcrlock.json, the verdict is unknown with the reason.
 */
@ExtendWith(SwtpmExtension.class)
class PcrlockVerdictTest {
    static final int NV_INDEX = 0x01d10031;
    static final byte[] SECRET = "pcrlock-protected".getBytes(StandardCharsets.US_ASCII);

    static Map<HashAlg, byte[]> sha256(String s) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        m.put(HashAlg.SHA256, HashAlg.SHA256.digest(s.getBytes(StandardCharsets.UTF_8)));
        return m;
    }

    @Test
    void pcrlockVerdictEqualsTheTpm(Swtpm swtpm, @TempDir Path dir) throws Exception {
        List<HashAlg> banks = List.of(HashAlg.SHA256);
        try (TssTpm tpm = swtpm.open()) {
            tpm.extend(7, sha256("secure boot"));
            tpm.extend(11, sha256("uki"));
            Map<HashAlg, byte[][]> before = tpm.readPcrs(PcrSelection.of(banks, IntStream.range(0, 24).boxed().toList()));
            List<Prediction.Extend> plan = List.of(new Prediction.Extend(11, sha256("boundary"), "the kexec boundary", true));
            Prediction prediction = Prediction.of(banks, before, plan);
            byte[] pcr7 = before.get(HashAlg.SHA256)[7];
            byte[] pcr11now = before.get(HashAlg.SHA256)[11];
            byte[] pcr11after = prediction.after().values().get(HashAlg.SHA256)[11];

            // pcrlock.json as systemd-pcrlock make-policy writes it: PCR 7 one value, PCR 11 two alternatives
            Path lockAllowing = dir.resolve("allowing.json");
            Files.writeString(lockAllowing, pcrlockJson(pcr7, pcr11now, pcr11after));
            Path lockOther = dir.resolve("other.json");
            Files.writeString(lockOther, pcrlockJson(pcr7, pcr11now, HashAlg.SHA256.digest("elsewhere".getBytes())));
            PcrlockPolicy allowing = PcrlockPolicy.read(lockAllowing);
            PcrlockPolicy other = PcrlockPolicy.read(lockOther);

            // the TPM reaches the digest we derive from the file (a real session over the current values)
            byte[] stored = allowing.storedPolicy(HashAlg.SHA256);
            assertArrayEquals(stored, superPolicyOnTpm(tpm, pcr7, List.of(pcr11now, pcr11after), 0));

            // the NV index holding it (as systemd defines it: owner-readable, written), a sealed object behind PolicyAuthorizeNV
            tss.Tpm raw = new tss.Tpm();
            raw._setDevice(tpm.transport());
            TPMA_NV attrs = new TPMA_NV(TPMA_NV.OWNERWRITE, TPMA_NV.OWNERREAD);
            TPM_HANDLE nv = new TPM_HANDLE(NV_INDEX);
            raw.NV_DefineSpace(TPM_HANDLE.from(TPM_RH.OWNER), new byte[0], new TPMS_NV_PUBLIC(nv, TPM_ALG_ID.SHA256, attrs, new byte[0], 34));
            raw.NV_Write(TPM_HANDLE.from(TPM_RH.OWNER), nv, ByteBuffer.allocate(34).putShort((short) HashAlg.SHA256.algId).put(stored).array(), 0);
            NvPublic nvPub = tpm.nvReadPublic(NV_INDEX);
            byte[] authPolicy = PolicyDigest.start(HashAlg.SHA256).policyAuthorizeNv(nvPub.name()).digest();
            SealedObject sealed = tpm.seal(SECRET, authPolicy);

            Map<String, Verdict> verdicts = new java.util.LinkedHashMap<>();
            Map<String, String> reasons = new java.util.LinkedHashMap<>();
            for (var e : Map.of("allowing", allowing, "other", other).entrySet()) {
                UnlockRoute r = new UnlockRoute("pcrlock", HashAlg.SHA256, authPolicy, sealed,
                        List.of(new PolicyStep.AuthorizeNv(nvPub, e.getValue())), true, false, List.of());
                SecretVerdict.RouteVerdict v = new SecretEvaluator(prediction, List.of(), new SignatureCatalog(), tpm).evaluate(r);
                verdicts.put(e.getKey(), v.verdict());
                reasons.put(e.getKey(), v.reason());
                // offline, or without the file: unknown, with the reason
                SecretVerdict.RouteVerdict offline = new SecretEvaluator(prediction, List.of(), new SignatureCatalog(), null).evaluate(r);
                assertEquals(Verdict.UNKNOWN, offline.verdict());
                assertTrue(offline.reason().contains("cannot be read without a TPM"), offline.reason());
            }
            UnlockRoute noFile = new UnlockRoute("pcrlock", HashAlg.SHA256, authPolicy, sealed,
                    List.of(new PolicyStep.AuthorizeNv(nvPub, null)), true, false, List.of());
            SecretVerdict.RouteVerdict nf = new SecretEvaluator(prediction, List.of(), new SignatureCatalog(), tpm).evaluate(noFile);
            assertEquals(Verdict.UNKNOWN, nf.verdict());
            assertTrue(nf.reason().contains("pcrlock.json"), nf.reason());

            // carry the plan out; the TPM decides
            for (Prediction.Extend e : plan) tpm.extend(e.pcr(), e.digests());
            byte[] out = unsealAfter(tpm, sealed, pcr7, List.of(pcr11now, pcr11after), 1, NV_INDEX);
            assertEquals(verdicts.get("allowing") == Verdict.REACHABLE, out != null, reasons.get("allowing"));
            assertArrayEquals(SECRET, out);
            // the "other" file does not describe the NV content: unknown, never a guess
            assertEquals(Verdict.UNKNOWN, verdicts.get("other"), reasons.get("other"));
            assertTrue(reasons.get("other").contains("stale"), reasons.get("other"));
        }
    }

    /** The planned value is not among the alternatives: unreachable, and the TPM agrees. */
    @Test
    void pcrlockWithoutThePredictedValueIsUnreachable(Swtpm swtpm, @TempDir Path dir) throws Exception {
        List<HashAlg> banks = List.of(HashAlg.SHA256);
        try (TssTpm tpm = swtpm.open()) {
            tss.Tpm raw = new tss.Tpm();
            raw._setDevice(tpm.transport());
            Map<HashAlg, byte[][]> before = tpm.readPcrs(PcrSelection.of(banks, IntStream.range(0, 24).boxed().toList()));
            List<Prediction.Extend> plan = List.of(new Prediction.Extend(11, sha256("boundary 2"), "the kexec boundary", true));
            Prediction prediction = Prediction.of(banks, before, plan);
            byte[] pcr7 = before.get(HashAlg.SHA256)[7];
            byte[] pcr11now = before.get(HashAlg.SHA256)[11];
            byte[] elsewhere = HashAlg.SHA256.digest("a value the kexec does not give".getBytes());
            Path lock = dir.resolve("pcrlock.json");
            Files.writeString(lock, pcrlockJson(pcr7, pcr11now, elsewhere));
            PcrlockPolicy p = PcrlockPolicy.read(lock);
            byte[] stored = p.storedPolicy(HashAlg.SHA256);
            int index = NV_INDEX + 1;
            TPM_HANDLE nv = new TPM_HANDLE(index);
            raw.NV_DefineSpace(TPM_HANDLE.from(TPM_RH.OWNER), new byte[0], new TPMS_NV_PUBLIC(nv, TPM_ALG_ID.SHA256,
                    new TPMA_NV(TPMA_NV.OWNERWRITE, TPMA_NV.OWNERREAD), new byte[0], 34));
            raw.NV_Write(TPM_HANDLE.from(TPM_RH.OWNER), nv, ByteBuffer.allocate(34).putShort((short) HashAlg.SHA256.algId).put(stored).array(), 0);
            NvPublic nvPub = tpm.nvReadPublic(index);
            byte[] authPolicy = PolicyDigest.start(HashAlg.SHA256).policyAuthorizeNv(nvPub.name()).digest();
            SealedObject sealed = tpm.seal(SECRET, authPolicy);
            UnlockRoute r = new UnlockRoute("pcrlock", HashAlg.SHA256, authPolicy, sealed,
                    List.of(new PolicyStep.AuthorizeNv(nvPub, p)), true, false, List.of());
            SecretVerdict.RouteVerdict v = new SecretEvaluator(prediction, List.of(), new SignatureCatalog(), tpm).evaluate(r);
            assertEquals(Verdict.UNREACHABLE, v.verdict(), v.reason());
            assertTrue(v.reason().contains("PCR 11 sha256") && v.reason().contains("none of the 2 value(s) pcrlock allows")
                    && v.reason().contains("the kexec boundary changes PCR 11"), v.reason());
            for (Prediction.Extend e : plan) tpm.extend(e.pcr(), e.digests());
            // the TPM refuses PolicyPCR with a value none of the branches: no session reaches the stored policy
            assertEquals(null, unsealAfter(tpm, sealed, pcr7, List.of(pcr11now, elsewhere), -1, index));
        }
    }

    static String pcrlockJson(byte[] pcr7, byte[] a, byte[] b) {
        return "{\"pcrBank\":\"sha256\",\"pcrValues\":[{\"pcr\":7,\"values\":[\"" + Hex.of(pcr7) + "\"]},"
                + "{\"pcr\":11,\"values\":[\"" + Hex.of(a) + "\",\"" + Hex.of(b) + "\"]}],\"nvIndex\":" + NV_INDEX + "}";
    }

    /** The super-PCR policy in a real session: PolicyPCR(7), then PolicyPCR(11) and PolicyOR over both alternatives. */
    static byte[] superPolicyOnTpm(TssTpm tpm, byte[] pcr7, List<byte[]> alternatives11, int current) {
        try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
            s.policyPcr(PcrSelection.of(HashAlg.SHA256, 7));
            byte[] base = s.digest();
            s.policyPcr(PcrSelection.of(HashAlg.SHA256, 11));
            s.policyOr(branches(base, alternatives11));
            return s.digest();
        }
    }

    static List<byte[]> branches(byte[] base, List<byte[]> alternatives) {
        List<byte[]> out = new ArrayList<>();
        for (byte[] v : alternatives) {
            byte[][] one = new byte[24][];
            one[11] = v;
            out.add(PolicyDigest.of(HashAlg.SHA256, base).policyPcr(PcrSelection.of(HashAlg.SHA256, 11), Map.of(HashAlg.SHA256, one)).digest());
        }
        return out;
    }

    /** Unseal through the pcrlock session (as systemd-cryptsetup does it); null when the TPM refuses a step. */
    static byte[] unsealAfter(TssTpm tpm, SealedObject sealed, byte[] pcr7, List<byte[]> alternatives11, int unused, int index) {
        tss.Tpm raw = new tss.Tpm();
        raw._setDevice(tpm.transport());
        try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
            s.policyPcr(PcrSelection.of(HashAlg.SHA256, 7));
            byte[] base = s.digest();
            s.policyPcr(PcrSelection.of(HashAlg.SHA256, 11));
            s.policyOr(branches(base, alternatives11));
            raw.PolicyAuthorizeNV(TPM_HANDLE.from(TPM_RH.OWNER), new TPM_HANDLE(index), new TPM_HANDLE(s.handle()));
            if (raw._getLastResponseCode() != tss.tpm.TPM_RC.SUCCESS) return null;
            return tpm.unseal(sealed, s);
        } catch (TpmCommandException | tss.TpmException e) {
            return null;
        }
    }
}
