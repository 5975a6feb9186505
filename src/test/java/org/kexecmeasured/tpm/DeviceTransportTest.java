package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.testing.PtyTpmBridge;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The device: transport on an arbitrary path (not only /dev/tpmrm0), with swtpm behind a raw pty. */
@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha1", "sha256"})
class DeviceTransportTest {
    @Test
    void deviceAtAnyPathReachesTheTpm(Swtpm swtpm) throws Exception {
        byte[] d1 = HashAlg.SHA1.digest(new byte[]{5});
        byte[] d256 = HashAlg.SHA256.digest(new byte[]{5});
        try (PtyTpmBridge bridge = new PtyTpmBridge(swtpm.port());
             Tpm tpm = TpmFactory.open("device:" + bridge.path())) {
            assertEquals(List.of(HashAlg.SHA1, HashAlg.SHA256), tpm.banks());
            tpm.extend(12, Map.of(HashAlg.SHA1, d1, HashAlg.SHA256, d256));
            // the 24 × 2 read (6 commands) and a sealed round trip exercise larger responses
            assertEquals(24, tpm.readPcrs(PcrSelection.of(tpm.banks(), PcrReadExtendTest.range(0, 23))).get(HashAlg.SHA1).length);
        }
        Map<String, Map<Integer, String>> tools = Tpm2Tools.pcrread(swtpm.tcti(), "sha1:12+sha256:12");
        assertEquals(Hex.of(HashAlg.SHA256.extend(new byte[32], d256)), tools.get("sha256").get(12));
        assertEquals(Hex.of(HashAlg.SHA1.extend(new byte[20], d1)), tools.get("sha1").get(12));
    }

    @Test
    void deviceThatStopsAnsweringTimesOut(Swtpm swtpm) throws Exception {
        try (PtyTpmBridge bridge = new PtyTpmBridge(swtpm.port());
             Tpm tpm = TpmFactory.open("device:" + bridge.path() + ",timeout=1000")) {
            tpm.banks();
            swtpm.freeze();
            try {
                long t0 = System.nanoTime();
                TpmTransportException e = assertThrows(TpmTransportException.class,
                        () -> tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 0)));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(e.getMessage().contains("within 1000 ms to TPM2_PCR_Read"), e.getMessage());
                assertTrue(ms >= 1000 && ms < 5000, "timed out after " + ms + " ms");
            } finally {
                swtpm.thaw();
            }
        }
    }

    @Test
    void missingDeviceIsAClearError() {
        TpmTransportException e = assertThrows(TpmTransportException.class, () -> TpmFactory.open("device:/dev/tpmrm9"));
        assertTrue(e.getMessage().contains("/dev/tpmrm9 does not exist"), e.getMessage());
    }
}
