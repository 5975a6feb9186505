package org.kexecmeasured.tpm.policy;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pure checks; the TPM-backed tests (PolicyDigestTpmTest) are the oracle for the digest values. */
class PolicyDigestTest {
    @Test
    void policyAuthValueIsTheWellKnownDigest() {
        // H(0^32 ‖ 0000016B): the digest tpm2-tools' documentation shows for tpm2_policyauthvalue
        assertEquals("8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e",
                Hex.of(PolicyDigest.start(HashAlg.SHA256).policyAuthValue().digest()));
    }

    @Test
    void policyPcrIsHashOfPreviousCodeSelectionAndValues() {
        PcrSelection sel = PcrSelection.of(HashAlg.SHA256, 7, 11);
        byte[][] pcrs = new byte[12][];
        pcrs[7] = HashAlg.SHA256.digest(new byte[]{7});
        pcrs[11] = HashAlg.SHA256.digest(new byte[]{11});
        byte[] pcrDigest = HashAlg.SHA256.digest(concat(pcrs[7], pcrs[11]));
        byte[] expect = HashAlg.SHA256.digest(concat(new byte[32], Hex.parse("0000017f"), Hex.parse("00000001000b03800800"), pcrDigest));
        assertArrayEquals(expect, PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, Map.of(HashAlg.SHA256, pcrs)).digest());
        // a missing value is bad input, not a wrong digest
        byte[][] missing = new byte[12][];
        missing[7] = pcrs[7];
        assertThrows(BadInputException.class, () -> PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, Map.of(HashAlg.SHA256, missing)));
    }

    @Test
    void policyOrLimitsAndMembership() {
        List<byte[]> nine = leaves(9);
        assertThrows(BadInputException.class, () -> PolicyDigest.or(HashAlg.SHA256, nine));
        assertThrows(BadInputException.class, () -> PolicyDigest.or(HashAlg.SHA256, nine.subList(0, 1)));
        assertThrows(BadInputException.class, () -> PolicyDigest.start(HashAlg.SHA256).policyOr(nine.subList(0, 3)),
                "the zero digest is not a branch");
        PolicyDigest fromBranch = PolicyDigest.of(HashAlg.SHA256, nine.get(2)).policyOr(nine.subList(0, 3));
        assertEquals(PolicyDigest.or(HashAlg.SHA256, nine.subList(0, 3)), fromBranch);
    }

    @Test
    void orTreeShapes() {
        List<byte[]> one = leaves(1);
        assertArrayEquals(one.get(0), new PolicyOrTree(HashAlg.SHA256, one).root());
        assertTrue(new PolicyOrTree(HashAlg.SHA256, one).path(0).isEmpty());

        List<byte[]> eight = leaves(8);
        PolicyOrTree t8 = new PolicyOrTree(HashAlg.SHA256, eight);
        assertArrayEquals(PolicyDigest.or(HashAlg.SHA256, eight).digest(), t8.root());
        assertEquals(1, t8.path(5).size());

        // 9 leaves: OR(first 8) and the 9th carried up, then OR of those two
        List<byte[]> nine = leaves(9);
        PolicyOrTree t9 = new PolicyOrTree(HashAlg.SHA256, nine);
        byte[] left = PolicyDigest.or(HashAlg.SHA256, nine.subList(0, 8)).digest();
        assertArrayEquals(PolicyDigest.or(HashAlg.SHA256, List.of(left, nine.get(8))).digest(), t9.root());
        assertEquals(1, t9.path(8).size(), "the carried leaf needs only the top OR");
        assertEquals(2, t9.path(0).size());

        // 64 leaves = exactly two levels; 65 = three
        assertEquals(2, new PolicyOrTree(HashAlg.SHA256, leaves(64)).path(63).size());
        assertEquals(3, new PolicyOrTree(HashAlg.SHA256, leaves(65)).path(0).size());
        // walking any path from its leaf reaches the root (the membership check holds at each level)
        PolicyOrTree t20 = new PolicyOrTree(HashAlg.SHA256, leaves(20));
        for (int i = 0; i < 20; i++) {
            PolicyDigest d = PolicyDigest.of(HashAlg.SHA256, leaves(20).get(i));
            for (List<byte[]> or : t20.path(i)) d = d.policyOr(or);
            assertArrayEquals(t20.root(), d.digest(), "leaf " + i);
        }
    }

    @Test
    void approvedPolicySignaturesRsaAndEcdsa() throws Exception {
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
        ec.initialize(new ECGenParameterSpec("secp256r1"));
        for (KeyPair k : List.of(rsa.generateKeyPair(), ec.generateKeyPair())) {
            byte[] policy = HashAlg.SHA256.digest(new byte[]{1});
            ApprovedPolicy a = ApprovedPolicy.sign(k.getPrivate(), HashAlg.SHA256, policy, "ref".getBytes());
            assertTrue(a.verify(k.getPublic()));
            assertArrayEquals(HashAlg.SHA256.digest(concat(policy, "ref".getBytes())), a.aHash());
            assertFalse(new ApprovedPolicy(policy, new byte[0], HashAlg.SHA256, a.signature()).verify(k.getPublic()), "policyRef is signed");
            byte[] other = policy.clone();
            other[0] ^= 1;
            assertFalse(new ApprovedPolicy(other, "ref".getBytes(), HashAlg.SHA256, a.signature()).verify(k.getPublic()));
            byte[] badSig = a.signature();
            badSig[badSig.length - 1] ^= 1;
            assertFalse(new ApprovedPolicy(policy, "ref".getBytes(), HashAlg.SHA256, badSig).verify(k.getPublic()));
            assertFalse(new ApprovedPolicy(policy, "ref".getBytes(), HashAlg.SHA256, new byte[3]).verify(k.getPublic()));
        }
    }

    static List<byte[]> leaves(int n) {
        List<byte[]> l = new ArrayList<>();
        for (int i = 0; i < n; i++) l.add(HashAlg.SHA256.digest(new byte[]{(byte) i}));
        return Collections.unmodifiableList(l);
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] o = new byte[n];
        int i = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, o, i, p.length);
            i += p.length;
        }
        return o;
    }
}
