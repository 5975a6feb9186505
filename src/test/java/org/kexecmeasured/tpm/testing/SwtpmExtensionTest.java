package org.kexecmeasured.tpm.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SwtpmExtensionTest {
    @RegisterExtension
    static final SwtpmExtension SWTPM = SwtpmExtension.withBanks("sha384", "sha512");

    @Test
    void registeredExtensionGivesTheChosenBanks() {
        try (Tpm tpm = SWTPM.swtpm().open()) {
            assertEquals(List.of(HashAlg.SHA384, HashAlg.SHA512), tpm.banks());
        }
        assertEquals(SWTPM.swtpm().port() + 1, SWTPM.swtpm().ctrlPort());
    }

    @Test
    void closeStopsSwtpmAndDeletesItsState() {
        Swtpm s = Swtpm.start(List.of("sha256"));
        Path dir = s.stateDir();
        long pid = s.pid();
        assertTrue(s.alive());
        assertTrue(Files.exists(dir.resolve("tpm2-00.permall")));
        s.close();
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "swtpm " + pid + " still running");
        assertFalse(Files.exists(dir));
    }
}
