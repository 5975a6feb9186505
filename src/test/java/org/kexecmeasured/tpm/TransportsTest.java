package org.kexecmeasured.tpm;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The other transports and the control channel, each against a real swtpm. */
@ExtendWith(SwtpmExtension.class)
class TransportsTest {
    @TempDir
    static Path tmp;
    static Path unixDir;

    @BeforeAll
    static void startUnixSwtpm() throws Exception {
        unixDir = tmp.resolve("unix");
        Swtpm.run(Swtpm.fixture("create-state.sh").toString(), unixDir.toString());
        Swtpm.run(Swtpm.fixture("start.sh").toString(), unixDir.toString(),
                unixDir.resolve("data.sock").toString(), unixDir.resolve("ctrl.sock").toString());
    }

    @AfterAll
    static void stopUnixSwtpm() {
        Swtpm.run(Swtpm.fixture("stop.sh").toString(), unixDir.toString());
    }

    @Test
    void mssimFramingOnSwtpm(Swtpm swtpm) {
        byte[] d = HashAlg.SHA256.digest(new byte[]{42});
        try (Tpm tpm = TpmFactory.open("mssim:host=127.0.0.1,port=" + swtpm.port())) {
            tpm.extend(9, Map.of(HashAlg.SHA256, d));
        }
        try (Tpm tpm = swtpm.open()) {
            assertArrayEquals(HashAlg.SHA256.extend(new byte[32], d), tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 9)).get(HashAlg.SHA256)[9]);
        }
    }

    @Test
    void unixSocketTransportAndControl() {
        Path data = unixDir.resolve("data.sock");
        assertTrue(Files.exists(data));
        try (Tpm tpm = TpmFactory.open("swtpm:path=" + data)) {
            assertEquals("IBM", tpm.info().manufacturer());
            tpm.extend(4, Map.of(HashAlg.SHA256, new byte[32]));
            assertArrayEquals(HashAlg.SHA256.extend(new byte[32], new byte[32]),
                    tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 4)).get(HashAlg.SHA256)[4]);
        }
        SwtpmControl ctrl = SwtpmControl.unix(unixDir.resolve("ctrl.sock"));
        assertTrue(ctrl.info(SwtpmControl.INFO_TPMSPECIFICATION).contains("\"TPMSpecification\""));
        ctrl.init();
        try (TssTpm tpm = new TssTpm(Tcti.parse("swtpm:path=" + data).open())) {
            try {
                tpm.startupClear();
            } catch (TpmCommandException e) {
                assertEquals(TpmRc.RC_VER1, e.rc().base(), e.getMessage()); // already started by swtpm
            }
            assertArrayEquals(new byte[32], tpm.readPcrs(PcrSelection.of(HashAlg.SHA256, 4)).get(HashAlg.SHA256)[4], "reset by CMD_INIT");
        }
    }

    @Test
    void controlChannelGetInfo(Swtpm swtpm) {
        String info = swtpm.control().info(SwtpmControl.INFO_TPMSPECIFICATION | SwtpmControl.INFO_TPMATTRIBUTES);
        assertTrue(info.contains("\"family\":\"2.0\""), info);
        assertTrue(info.contains("\"TPMAttributes\""), info);
    }
}
