package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.transport.RecordingTransport;
import org.kexecmeasured.util.HashAlg;
import tss.tpm.CreatePrimaryResponse;
import tss.tpm.StartAuthSessionResponse;
import tss.tpm.TPM2B_DIGEST_KEYEDHASH;
import tss.tpm.TPM2B_PRIVATE;
import tss.tpm.TPMA_OBJECT;
import tss.tpm.TPMS_ECC_PARMS;
import tss.tpm.TPMS_ECC_POINT;
import tss.tpm.TPMS_KEYEDHASH_PARMS;
import tss.tpm.TPMS_NULL_ASYM_SCHEME;
import tss.tpm.TPMS_NULL_KDF_SCHEME;
import tss.tpm.TPMS_NULL_SCHEME_KEYEDHASH;
import tss.tpm.TPMS_PCR_SELECTION;
import tss.tpm.TPMS_SENSITIVE_CREATE;
import tss.tpm.TPMT_PUBLIC;
import tss.tpm.TPMT_SYM_DEF;
import tss.tpm.TPMT_SYM_DEF_OBJECT;
import tss.tpm.TPM_ALG_ID;
import tss.tpm.TPM_ECC_CURVE;
import tss.tpm.TPM_HANDLE;
import tss.tpm.TPM_RH;
import tss.tpm.TPM_SE;

import java.security.SecureRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The secret never crosses the TPM bus in clear: every command and response of a seal and an
 * unseal is captured at the transport (what an interposer on the bus would see) and searched for
 * the secret. The control — the same unseal as TSS.Java sends it, without an encrypting session —
 * shows the capture does see a secret in clear, so the search can fail.
 */
@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha256"})
class UnsealHygieneTest {
    static final PcrSelection PCR7 = PcrSelection.of(HashAlg.SHA256, 7);

    static byte[] secret() {
        byte[] s = new byte[32];
        new SecureRandom().nextBytes(s);
        return s;
    }

    /** True when any 8-byte window of {@code needle} occurs in {@code hay}. */
    static boolean leaks(byte[] hay, byte[] needle) {
        for (int i = 0; i + 8 <= needle.length; i++) {
            outer:
            for (int j = 0; j + 8 <= hay.length; j++) {
                for (int k = 0; k < 8; k++) if (hay[j + k] != needle[i + k]) continue outer;
                return true;
            }
        }
        return false;
    }

    static void assertNoLeak(RecordingTransport rec, byte[] secret, String what) {
        for (RecordingTransport.Exchange e : rec.log()) {
            assertFalse(leaks(e.command(), secret), what + ": the secret is in clear in the command of "
                    + org.kexecmeasured.tpm.transport.TpmTransport.commandName(e.commandCode()));
            assertFalse(leaks(e.response(), secret), what + ": the secret is in clear in the response to "
                    + org.kexecmeasured.tpm.transport.TpmTransport.commandName(e.commandCode()));
        }
    }

    @Test
    void sealAndUnsealNeverShowTheSecret(Swtpm swtpm) {
        byte[] secret = secret();
        byte[] pin = HashAlg.SHA256.digest("1234".getBytes());
        RecordingTransport rec = new RecordingTransport(org.kexecmeasured.tpm.Tcti.parse(swtpm.tcti()).open());
        try (TssTpm tpm = new TssTpm(rec)) {
            byte[] plain = PolicyDigest.start(HashAlg.SHA256).policyPcr(PCR7, tpm.readPcrs(PCR7)).digest();
            byte[] withPin = PolicyDigest.start(HashAlg.SHA256).policyPcr(PCR7, tpm.readPcrs(PCR7)).policyAuthValue().digest();
            SealedObject a = tpm.seal(secret, plain);
            SealedObject b = tpm.seal(secret, withPin, pin);
            assertNoLeak(rec, secret, "seal");
            assertTrue(rec.log().stream().anyMatch(e -> e.commandCode() == 0x153), "TPM2_Create went through the recorder");
            rec.log().clear();
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCR7);
                assertArrayEquals(secret, tpm.unseal(a, s));
            }
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCR7);
                s.policyAuthValue();
                assertArrayEquals(secret, tpm.unseal(b, s, pin));
            }
            assertNoLeak(rec, secret, "unseal");
            // two unseals (the TPM may ask for a retry of one: TPM_RC_RETRY after a PIN check)
            assertTrue(rec.log().stream().filter(e -> e.commandCode() == 0x15E).count() >= 2, "TPM2_Unseal went through the recorder");
        }
    }

    /** An interposer that alters the encrypted response is caught by the response HMAC, before any data is used. */
    @Test
    void alteredUnsealResponseIsRefused(Swtpm swtpm) {
        byte[] secret = secret();
        RecordingTransport rec = new RecordingTransport(org.kexecmeasured.tpm.Tcti.parse(swtpm.tcti()).open());
        try (TssTpm tpm = new TssTpm(rec)) {
            SealedObject a = tpm.seal(secret, PolicyDigest.start(HashAlg.SHA256).policyPcr(PCR7, tpm.readPcrs(PCR7)).digest());
            rec.tamper((cc, r) -> {
                if (cc == 0x15E && r.length > 20) r[16] ^= 1; // a byte of the encrypted outData
                return r;
            });
            try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                s.policyPcr(PCR7);
                TpmTransportException e = assertThrows(TpmTransportException.class, () -> tpm.unseal(a, s));
                assertTrue(e.getMessage().contains("HMAC") && e.getMessage().contains("does not verify"), e.getMessage());
            }
        }
    }

    /** Control: TPM2_Unseal with only a policy session (as TSS.Java sends it) returns the secret in clear. */
    @Test
    void controlUnsealWithoutEncryptionShowsTheSecret(Swtpm swtpm) {
        byte[] secret = secret();
        byte[] policy;
        SealedObject a;
        try (TssTpm tpm = swtpm.open()) {
            policy = PolicyDigest.start(HashAlg.SHA256).policyPcr(PCR7, tpm.readPcrs(PCR7)).digest();
            a = tpm.seal(secret, policy);
        }
        RecordingTransport rec = new RecordingTransport(org.kexecmeasured.tpm.Tcti.parse(swtpm.tcti()).open());
        try (rec) {
            tss.Tpm t = new tss.Tpm();
            t._setDevice(rec);
            TPMT_PUBLIC srk = new TPMT_PUBLIC(TPM_ALG_ID.SHA256,
                    new TPMA_OBJECT(TPMA_OBJECT.fixedTPM, TPMA_OBJECT.fixedParent, TPMA_OBJECT.sensitiveDataOrigin,
                            TPMA_OBJECT.userWithAuth, TPMA_OBJECT.noDA, TPMA_OBJECT.restricted, TPMA_OBJECT.decrypt),
                    new byte[0], new TPMS_ECC_PARMS(new TPMT_SYM_DEF_OBJECT(TPM_ALG_ID.AES, 128, TPM_ALG_ID.CFB),
                    new TPMS_NULL_ASYM_SCHEME(), TPM_ECC_CURVE.NIST_P256, new TPMS_NULL_KDF_SCHEME()),
                    new TPMS_ECC_POINT(new byte[0], new byte[0]));
            CreatePrimaryResponse p = t.CreatePrimary(TPM_HANDLE.from(TPM_RH.OWNER), new TPMS_SENSITIVE_CREATE(new byte[0], new byte[0]),
                    srk, new byte[0], new TPMS_PCR_SELECTION[0]);
            TPM_HANDLE obj = t.Load(p.handle, new TPM2B_PRIVATE(a.privateArea()), TPMT_PUBLIC.fromBytes(a.publicArea()));
            StartAuthSessionResponse s = t.StartAuthSession(TPM_HANDLE.NULL, TPM_HANDLE.NULL, new byte[16], new byte[0], TPM_SE.POLICY,
                    new TPMT_SYM_DEF(TPM_ALG_ID.NULL, 0, TPM_ALG_ID.NULL), TPM_ALG_ID.SHA256);
            t.PolicyPCR(s.handle, new byte[0], new TPMS_PCR_SELECTION[]{new TPMS_PCR_SELECTION(TPM_ALG_ID.SHA256, PCR7.selectBits(HashAlg.SHA256))});
            byte[] out = t._withSession(s.handle).Unseal(obj);
            assertArrayEquals(secret, out);
            assertTrue(rec.log().stream().anyMatch(e -> e.commandCode() == 0x15E && leaks(e.response(), secret)),
                    "the recorder sees the secret in the plain TPM2_Unseal response");
            t.FlushContext(s.handle);
            t.FlushContext(obj);
            t.FlushContext(p.handle);
        }
    }
}
