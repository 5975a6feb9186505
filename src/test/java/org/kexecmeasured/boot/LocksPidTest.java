package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A held lock file names its holder's pid (what a waiting run prints). {@link Locks#pid} reads it from
 * {@code /proc/self}; the oracle is the JDK's {@link ProcessHandle#current()} of the same process.
 */
class LocksPidTest {

    @Test
    void theLockFileHoldsThisProcesssPid(@TempDir Path dir) throws Exception {
        String want = Long.toString(ProcessHandle.current().pid());
        assertEquals(want, Locks.pid());
        try (Locks.Held held = Locks.stateDir(dir, Duration.ZERO)) {
            assertEquals(want + "\n", Files.readString(dir.resolve(Locks.STATE_LOCK), StandardCharsets.US_ASCII));
        }
    }
}
