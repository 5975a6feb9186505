package org.kexecmeasured.tpm;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PcrSelectionTest {
    @Test
    void tpmlEncodingFromSpecExample() {
        // TPML_PCR_SELECTION sha256 {7, 11}: count 1, alg 0x000B, sizeofSelect 3, bits 0x80 0x08 0x00
        assertEquals("00000001000b03800800", Hex.of(PcrSelection.of(HashAlg.SHA256, 7, 11).toTpml()));
        assertEquals("00000002000403010000000b03000001",
                Hex.of(PcrSelection.parse("sha1:0+sha256:16").toTpml()));
    }

    @Test
    void parsesListsAndKeepsBankOrder() {
        assertEquals(List.of(0, 1, 2, 3, 7, 11), PcrSelection.parsePcrList("0-3, 7,11,3"));
        assertEquals(24, PcrSelection.parsePcrList("all").size());
        PcrSelection s = PcrSelection.parse("sha256:11,7+sha1:0");
        assertEquals(List.of(HashAlg.SHA256, HashAlg.SHA1), s.banks());
        assertEquals("sha256:7,11+sha1:0", s.toString());
        assertEquals(3, s.count());
        assertThrows(BadInputException.class, () -> PcrSelection.parsePcrList("3-1"));
        assertThrows(BadInputException.class, () -> PcrSelection.parsePcrList("x"));
        assertThrows(BadInputException.class, () -> PcrSelection.parse("sha256"));
        assertThrows(BadInputException.class, () -> PcrSelection.parse("md5:1"));
    }
}
