package org.kexecmeasured.tpm;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.policy.ApprovedPolicy;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha256"})
class SealUnsealTest {
    static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    static final PcrSelection PCRS_7_11 = PcrSelection.of(HashAlg.SHA256, 7, 11);

    @BeforeAll
    static void measureSomething(Swtpm swtpm) {
        try (Tpm tpm = swtpm.open()) {
            extend(tpm, 7, "secure boot state");
            extend(tpm, 11, "kernel image");
        }
    }

    static void extend(Tpm tpm, int pcr, String event) {
        Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
        for (HashAlg a : tpm.banks()) d.put(a, a.digest(event.getBytes(StandardCharsets.UTF_8)));
        tpm.extend(pcr, d);
    }

    @Test
    void sealToPcr7And11ThenChangePcr11(Swtpm swtpm) {
        try (Tpm tpm = swtpm.open()) {
            // predicted, not read back from a TPM session: the pure calculator on the current values
            byte[] policy = PolicyDigest.start(HashAlg.SHA256).policyPcr(PCRS_7_11, tpm.readPcrs(PCRS_7_11)).digest();
            SealedObject sealed = tpm.seal(SECRET, policy);

            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCRS_7_11);
                assertArrayEquals(SECRET, tpm.unseal(sealed, s));
            }

            extend(tpm, 11, "another kernel");
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCRS_7_11);
                TpmCommandException e = assertThrows(TpmCommandException.class, () -> tpm.unseal(sealed, s));
                assertEquals("TPM2_Unseal", e.command());
                assertTrue(e.rc().isFormat1(TpmRc.POLICY_FAIL), e.getMessage());
                assertEquals(TpmRc.Subject.SESSION, e.rc().subject());
                assertEquals(1, e.rc().index());
                assertTrue(e.getMessage().startsWith("TPM2_Unseal failed: TPM_RC_POLICY_FAIL (0x99d) on session 1: a policy check failed"),
                        e.getMessage());
            }
        }
    }

    /** systemd-style PIN: PolicyPCR + PolicyAuthValue; the unseal carries an HMAC keyed with the PIN hash. */
    @Test
    void sealWithPinPolicyAuthValue(Swtpm swtpm) {
        byte[] pin = HashAlg.SHA256.digest("1234".getBytes(StandardCharsets.UTF_8));
        byte[] wrong = HashAlg.SHA256.digest("1235".getBytes(StandardCharsets.UTF_8));
        PcrSelection pcr7 = PcrSelection.of(HashAlg.SHA256, 7);
        try (Tpm tpm = swtpm.open()) {
            byte[] policy = PolicyDigest.start(HashAlg.SHA256).policyPcr(pcr7, tpm.readPcrs(pcr7)).policyAuthValue().digest();
            SealedObject sealed = tpm.seal(SECRET, policy, pin);
            for (int i = 0; i < 2; i++) { // twice: the session nonces roll correctly
                try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                    s.policyPcr(pcr7);
                    s.policyAuthValue();
                    assertArrayEquals(SECRET, tpm.unseal(sealed, s, pin));
                }
            }
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(pcr7);
                s.policyAuthValue();
                TpmCommandException e = assertThrows(TpmCommandException.class, () -> tpm.unseal(sealed, s, wrong));
                assertTrue(e.rc().isFormat1(TpmRc.AUTH_FAIL), e.getMessage());
                assertEquals(TpmRc.Subject.SESSION, e.rc().subject());
            }
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(pcr7);
                TpmCommandException e = assertThrows(TpmCommandException.class, () -> tpm.unseal(sealed, s, pin));
                assertTrue(e.rc().isFormat1(TpmRc.POLICY_FAIL), "PolicyAuthValue left out: " + e.getMessage());
            }
        }
    }

    @Test
    void policyPcrWithStaleExpectedDigestIsRefusedEarly(Swtpm swtpm) {
        try (Tpm tpm = swtpm.open(); PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
            TpmCommandException e = assertThrows(TpmCommandException.class, () -> s.policyPcr(PCRS_7_11, new byte[32]));
            assertEquals("TPM2_PolicyPCR", e.command());
            assertTrue(e.rc().isFormat1(TpmRc.VALUE), e.getMessage());
            assertEquals(TpmRc.Subject.PARAMETER, e.rc().subject());
            assertEquals(1, e.rc().index());
        }
    }

    @Test
    void sealUnderPolicyAuthorizeRsa(Swtpm swtpm) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        sealUnderPolicyAuthorize(swtpm, g.generateKeyPair(), g.generateKeyPair());
    }

    @Test
    void sealUnderPolicyAuthorizeEcdsa(Swtpm swtpm) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        sealUnderPolicyAuthorize(swtpm, g.generateKeyPair(), g.generateKeyPair());
    }

    /** systemd-style: the object's policy is PolicyAuthorize(key); a signed PolicyPCR unlocks it. */
    private void sealUnderPolicyAuthorize(Swtpm swtpm, KeyPair key, KeyPair otherKey) {
        byte[] ref = new byte[0];
        try (Tpm tpm = swtpm.open()) {
            SealedObject sealed = tpm.seal(SECRET, ApprovedPolicy.authorizedPolicy(HashAlg.SHA256, key.getPublic(), ref));
            byte[] approvedPolicy = PolicyDigest.start(HashAlg.SHA256).policyPcr(PCRS_7_11, tpm.readPcrs(PCRS_7_11)).digest();
            ApprovedPolicy signed = ApprovedPolicy.sign(key.getPrivate(), HashAlg.SHA256, approvedPolicy, ref);
            assertTrue(signed.verify(key.getPublic()));
            assertFalse(signed.verify(otherKey.getPublic()));

            // with the signature: PolicyPCR reaches the approved policy, PolicyAuthorize swaps in the authorized one
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCRS_7_11);
                s.policyAuthorize(signed, key.getPublic());
                assertArrayEquals(SECRET, tpm.unseal(sealed, s));
            }
            // without it: the session stays at the PolicyPCR digest, which is not the object's policy
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCRS_7_11);
                TpmCommandException e = assertThrows(TpmCommandException.class, () -> tpm.unseal(sealed, s));
                assertTrue(e.rc().isFormat1(TpmRc.POLICY_FAIL), e.getMessage());
            }
            // a signature by another key: the TPM rejects it in TPM2_VerifySignature
            ApprovedPolicy forged = ApprovedPolicy.sign(otherKey.getPrivate(), HashAlg.SHA256, approvedPolicy, ref);
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCRS_7_11);
                TpmCommandException e = assertThrows(TpmCommandException.class, () -> s.policyAuthorize(forged, key.getPublic()));
                assertEquals("TPM2_VerifySignature", e.command());
                assertTrue(e.rc().isFormat1(TpmRc.SIGNATURE), e.getMessage());
            }
            // a valid signature over a policy the session did not reach: PolicyAuthorize refuses
            ApprovedPolicy otherPolicy = ApprovedPolicy.sign(key.getPrivate(), HashAlg.SHA256, new byte[32], ref);
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCRS_7_11);
                TpmCommandException e = assertThrows(TpmCommandException.class, () -> s.policyAuthorize(otherPolicy, key.getPublic()));
                assertEquals("TPM2_PolicyAuthorize", e.command());
            }
        }
    }

    /** tpm2-tools unseals our blobs under the same SRK template: the TPM2B files and the parent are interoperable. */
    @Test
    void tpm2ToolsUnsealsOurBlob(Swtpm swtpm, @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        SealedObject sealed;
        try (Tpm tpm = swtpm.open()) {
            sealed = tpm.seal(SECRET, PolicyDigest.start(HashAlg.SHA256).policyPcr(PCRS_7_11, tpm.readPcrs(PCRS_7_11)).digest());
        }
        java.nio.file.Path pub = dir.resolve("obj.pub");
        java.nio.file.Path priv = dir.resolve("obj.priv");
        java.nio.file.Files.write(pub, sealed.publicBlob());
        java.nio.file.Files.write(priv, sealed.privateBlob());
        String t = swtpm.tcti();
        String prim = dir.resolve("prim.ctx").toString();
        String obj = dir.resolve("obj.ctx").toString();
        String ses = dir.resolve("s.ctx").toString();
        org.kexecmeasured.tpm.testing.Tpm2Tools.run(t, "tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb",
                "-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda", "-c", prim);
        org.kexecmeasured.tpm.testing.Tpm2Tools.run(t, "tpm2_load", "-C", prim, "-u", pub.toString(), "-r", priv.toString(), "-c", obj);
        org.kexecmeasured.tpm.testing.Tpm2Tools.run(t, "tpm2_flushcontext", "-t");
        org.kexecmeasured.tpm.testing.Tpm2Tools.run(t, "tpm2_startauthsession", "--policy-session", "-S", ses);
        org.kexecmeasured.tpm.testing.Tpm2Tools.run(t, "tpm2_policypcr", "-S", ses, "-l", "sha256:7,11");
        java.nio.file.Path out = dir.resolve("secret");
        org.kexecmeasured.tpm.testing.Tpm2Tools.run(t, "tpm2_unseal", "-c", obj, "-p", "session:" + ses, "-o", out.toString());
        org.kexecmeasured.tpm.testing.Tpm2Tools.run(t, "tpm2_flushcontext", ses);
        assertArrayEquals(SECRET, java.nio.file.Files.readAllBytes(out));
    }

    @Test
    void sealedBlobsRoundTripAsTpm2B(Swtpm swtpm) {
        try (Tpm tpm = swtpm.open()) {
            byte[] policy = PolicyDigest.start(HashAlg.SHA256).policyPcr(PCRS_7_11, tpm.readPcrs(PCRS_7_11)).digest();
            SealedObject sealed = tpm.seal(SECRET, policy);
            SealedObject again = SealedObject.fromBlobs(sealed.publicBlob(), sealed.privateBlob());
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCRS_7_11);
                assertArrayEquals(SECRET, tpm.unseal(again, s));
            }
            assertThrows(org.kexecmeasured.util.BadInputException.class, () -> tpm.seal(new byte[129], policy));
            assertEquals(List.of(HashAlg.SHA256), tpm.banks());
        }
    }
}
