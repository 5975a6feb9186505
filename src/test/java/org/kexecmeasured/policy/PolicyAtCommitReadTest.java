package org.kexecmeasured.policy;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.util.BadInputException;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile files in the pending directory (review-s4): the JSON literal null and a path with a NUL character were
 * internal errors (NullPointerException, InvalidPathException: exit 70); they are bad input naming the file (exit 2).
 */
class PolicyAtCommitReadTest {

    @ParameterizedTest
    @ValueSource(strings = {"null",
            "{\"format\":\"kexec-measured-policy-at-commit/1\",\"policyFile\":\"/etc/a\\u0000b\",\"policyId\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"})
    void policyJsonIsBadInput(String text, @TempDir Path dir) throws Exception {
        Path f = dir.resolve(PolicyAtCommit.FILE);
        Files.writeString(f, text);
        BadInputException e = assertThrows(BadInputException.class, () -> PolicyAtCommit.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"null"})
    void pendingJsonIsBadInput(String text, @TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve(PendingBoot.FILE), text);
        BadInputException e = assertThrows(BadInputException.class, () -> PendingBoot.read(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve(PendingBoot.FILE).toString()), e.getMessage());
    }
}
