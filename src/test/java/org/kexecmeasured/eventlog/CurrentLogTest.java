package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The continued log a measured kexec left wins over securityfs's, and the choice is said. */
class CurrentLogTest {

    @Test
    void continuedLogWinsWhenPresent(@TempDir Path root) throws IOException {
        CurrentLog.Choice fw = CurrentLog.choose(root);
        assertFalse(fw.continued());
        assertEquals(root.resolve("sys/kernel/security/tpm0/binary_bios_measurements"), fw.path());
        assertTrue(fw.note().contains("firmware's log"));

        Path c = root.resolve("run/kexec-measured/tpm2-event-log.bin");
        Files.createDirectories(c.getParent());
        Files.write(c, new byte[]{1});
        CurrentLog.Choice k = CurrentLog.choose(root);
        assertTrue(k.continued());
        assertEquals(c, k.path());
        assertTrue(k.note().contains("continued log") && k.note().contains("holds only the firmware's records"));
    }

    @Test
    void aDirectoryInPlaceOfTheContinuedLogDoesNotCount(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("run/kexec-measured/tpm2-event-log.bin"));
        assertFalse(CurrentLog.choose(root).continued());
    }
}
