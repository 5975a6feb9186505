package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import org.kexecmeasured.tpm.error.TpmException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.transport.TpmTransport;
import org.kexecmeasured.util.HashAlg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After a command times out the TPM may still answer it; that late answer must never be taken as the
 * response to the next command on the same connection. The transport gives the connection up instead.
 */
@ExtendWith(SwtpmExtension.class)
class TransportAbandonTest {
    /** TPM2_GetRandom(8): response is 10 + 2 + 8 = 20 bytes. */
    static final byte[] GET_RANDOM = {(byte) 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8};
    /** TPM2_PCR_Read(sha256, PCR 0): response is 62 bytes, so a stale one is told apart from GetRandom's. */
    static final byte[] PCR_READ = {(byte) 0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7E, 0, 0, 0, 1, 0, 0x0B, 3, 1, 0, 0};

    @AfterEach
    void thaw(Swtpm swtpm) {
        swtpm.thaw();
    }

    @Test
    void swtpmSocketIsAbandonedAfterATimeout(Swtpm swtpm) throws Exception {
        abandonedAfterTimeout(swtpm, swtpm.tcti(500));
    }

    @Test
    void mssimSocketIsAbandonedAfterATimeout(Swtpm swtpm) throws Exception {
        abandonedAfterTimeout(swtpm, "mssim:host=127.0.0.1,port=" + swtpm.port() + ",timeout=500");
    }

    private static void abandonedAfterTimeout(Swtpm swtpm, String tcti) throws Exception {
        try (TpmTransport t = Tcti.parse(tcti).open()) {
            assertEquals(20, t.transact(GET_RANDOM).length, "connection works before the timeout");
            swtpm.freeze();
            TpmTransportException timeout = assertThrows(TpmTransportException.class, () -> t.transact(PCR_READ));
            assertTrue(timeout.getMessage().contains("within 500 ms to TPM2_PCR_Read"), timeout.getMessage());
            swtpm.thaw();
            Thread.sleep(300); // swtpm now answers the timed-out PCR_Read (onto the abandoned socket)
            TpmTransportException next = assertThrows(TpmTransportException.class, () -> t.transact(GET_RANDOM),
                    "the late PCR_Read response must not be returned as GetRandom's");
            assertTrue(next.getMessage().contains("connection to the TPM was abandoned after an earlier timeout/error"), next.getMessage());
            assertTrue(next.getMessage().contains("TPM2_GetRandom"), next.getMessage());
            // and it stays that way
            assertThrows(TpmTransportException.class, () -> t.transact(GET_RANDOM));
        }
        // the TPM itself is fine: a new connection gets GetRandom's own answer
        try (TpmTransport fresh = Tcti.parse(tcti).open()) {
            assertEquals(20, fresh.transact(GET_RANDOM).length);
        }
    }

    @Test
    void highLevelTpmFailsClearlyAfterATimeout(Swtpm swtpm) throws Exception {
        try (Tpm tpm = TpmFactory.open(swtpm.tcti(500))) {
            tpm.banks();
            swtpm.freeze();
            assertThrows(TpmException.class, () -> tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 0)));
            swtpm.thaw();
            Thread.sleep(300);
            TpmException e = assertThrows(TpmException.class, () -> tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 0)));
            String all = messages(e);
            assertTrue(all.contains("connection to the TPM was abandoned after an earlier timeout/error"), all);
        }
    }

    private static String messages(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable x = t; x != null; x = x.getCause()) b.append(x).append(" | ");
        return b.toString();
    }
}
