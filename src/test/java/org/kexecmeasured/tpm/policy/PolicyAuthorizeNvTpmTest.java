package org.kexecmeasured.tpm.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PolicySession;
import org.kexecmeasured.tpm.TssTpm;
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

import static org.junit.jupiter.api.Assertions.assertEquals;

/** PolicyAuthorizeNV: our NV Name and digest against the TPM (NV_ReadPublic, a real policy session). */
@ExtendWith(SwtpmExtension.class)
class PolicyAuthorizeNvTpmTest {
    static final int NV_INDEX = 0x01500020;

    @Test
    void nvNameAndPolicyAuthorizeNvMatchTheTpm(Swtpm swtpm) {
        try (TssTpm tpm = swtpm.open()) {
            tss.Tpm raw = new tss.Tpm();
            raw._setDevice(tpm.transport());
            TPMA_NV attrs = new TPMA_NV(TPMA_NV.OWNERWRITE, TPMA_NV.OWNERREAD, TPMA_NV.AUTHWRITE, TPMA_NV.AUTHREAD);
            TPM_HANDLE nv = new TPM_HANDLE(NV_INDEX);
            raw.NV_DefineSpace(TPM_HANDLE.from(TPM_RH.OWNER), new byte[0],
                    new TPMS_NV_PUBLIC(nv, TPM_ALG_ID.SHA256, attrs, new byte[0], 34));
            try {
                PcrSelection sel = PcrSelection.of(HashAlg.SHA256, 7);
                byte[] approved = PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, tpm.readPcrs(sel)).digest();
                // the index holds a TPMT_HA: u16 hashAlg ‖ digest
                byte[] tpmtHa = ByteBuffer.allocate(34).putShort((short) HashAlg.SHA256.algId).put(approved).array();
                raw.NV_Write(TPM_HANDLE.from(TPM_RH.OWNER), nv, tpmtHa, 0);

                int written = attrs.toInt() | TPMA_NV.WRITTEN.toInt();
                byte[] ourName = TpmNames.nvName(NV_INDEX, HashAlg.SHA256, written, new byte[0], 34);
                assertEquals(Hex.of(raw.NV_ReadPublic(nv).nvName), Hex.of(ourName), "NV index Name");

                byte[] ours = PolicyDigest.start(HashAlg.SHA256).policyAuthorizeNv(ourName).digest();
                try (PolicySession s = tpm.startPolicySession(HashAlg.SHA256, false)) {
                    s.policyPcr(sel);
                    raw.PolicyAuthorizeNV(TPM_HANDLE.from(TPM_RH.OWNER), nv, new TPM_HANDLE(s.handle()));
                    assertEquals(Hex.of(ours), Hex.of(s.digest()), "policy digest after PolicyAuthorizeNV");
                }
            } finally {
                raw.NV_UndefineSpace(TPM_HANDLE.from(TPM_RH.OWNER), nv);
            }
        }
    }
}
