package org.kexecmeasured.tpm;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.HashAlg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * TSS.Java 1.0.0 was built against bcprov-jdk15on 1.60 and JNA 4.4; the pom replaces them with
 * bcprov-jdk18on and JNA 5. The TSS.Java code paths that touch those libraries must still link.
 */
class TssJavaCompatTest {
    @Test
    void bouncyCastlePathsLink() {
        byte[] data = "abc".getBytes();
        assertArrayEquals(HashAlg.SHA256.digest(data), tss.Crypto.hash(tss.tpm.TPM_ALG_ID.SHA256, data));
        assertArrayEquals(HashAlg.SHA384.digest(data), tss.Crypto.hash(tss.tpm.TPM_ALG_ID.SHA384, data));
        assertEquals(32, tss.Crypto.KDFa(tss.tpm.TPM_ALG_ID.SHA256, new byte[16], "ATH", new byte[4], new byte[4], 256).length);
        assertDoesNotThrow(() -> tss.Crypto.createECCKey(tss.tpm.TPM_ECC_CURVE.NIST_P256, tss.tpm.TPM_ALG_ID.ECDSA));
    }

    @Test
    void jnaUsingClassesLoad() {
        // TpmDeviceTbs (Windows TBS via JNA) is referenced from TSS.Java's TpmFactory; it must link with JNA 5
        assertDoesNotThrow(() -> Class.forName("tss.TpmDeviceTbs").getDeclaredMethods());
        assertDoesNotThrow(() -> Class.forName("tss.TpmFactory").getDeclaredMethods());
    }
}
