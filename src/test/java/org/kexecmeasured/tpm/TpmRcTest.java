package org.kexecmeasured.tpm;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Response-code layouts from TPM 2.0 Part 2 (TPM_RC): format-0 VER1/WARN and format-1 with N. */
class TpmRcTest {
    @Test
    void format1SessionParameterHandle() {
        TpmRc s = TpmRc.decode(0x99D); // RC_FMT1 | POLICY_FAIL, S bit (0x800), session 1
        assertEquals("TPM_RC_POLICY_FAIL", s.name());
        assertEquals(TpmRc.Subject.SESSION, s.subject());
        assertEquals(1, s.index());
        assertEquals(0x09D, s.base());

        TpmRc p = TpmRc.decode(0x2C4); // P bit (0x040), parameter 2, VALUE
        assertEquals("TPM_RC_VALUE", p.name());
        assertEquals(TpmRc.Subject.PARAMETER, p.subject());
        assertEquals(2, p.index());

        TpmRc h = TpmRc.decode(0x18B); // handle 1, HANDLE
        assertEquals("TPM_RC_HANDLE", h.name());
        assertEquals(TpmRc.Subject.HANDLE, h.subject());
        assertEquals(1, h.index());
        assertTrue(h.toString().startsWith("TPM_RC_HANDLE (0x18b) on handle 1: "), h.toString());

        TpmRc pf = TpmRc.decode(0xFDB); // parameter 15, SIGNATURE
        assertEquals(TpmRc.Subject.PARAMETER, pf.subject());
        assertEquals(15, pf.index());
        assertEquals("TPM_RC_SIGNATURE", pf.name());
    }

    @Test
    void format0AndWarnings() {
        assertEquals("TPM_RC_INITIALIZE", TpmRc.decode(0x100).name());
        assertEquals("TPM_RC_COMMAND_CODE", TpmRc.decode(0x143).name());
        assertEquals("TPM_RC_RETRY", TpmRc.decode(0x922).name());
        assertEquals("TPM_RC_LOCKOUT", TpmRc.decode(0x921).name());
        assertEquals("TPM_RC_REFERENCE_S0", TpmRc.decode(0x918).name());
        assertEquals("TPM_RC_SUCCESS", TpmRc.decode(0).name());
        assertEquals(TpmRc.Subject.NONE, TpmRc.decode(0x101).subject());
        assertTrue(TpmRc.decode(0x1E).name().contains("1.2"), "TPM 1.2 codes are named as such");
        assertTrue(TpmRc.decode(0x17F).name().startsWith("TPM_RC_0x"), "unknown codes keep their number");
    }
}
