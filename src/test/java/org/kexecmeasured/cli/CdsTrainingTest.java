package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The payload archive's class list ({@link CdsTraining#CLASS_LIST}) against this build: the training skips a listed class
 * it cannot load without a word (a JDK's or a library's of another version is only not archived), so a class of ours that
 * was renamed or removed would leave the list stale and the archive smaller, unnoticed. The oracle is the class loader.
 */
class CdsTrainingTest {

    @Test
    void everyListedClassOfOursExists() throws IOException {
        List<String> ours = new ArrayList<>();
        try (InputStream in = CdsTraining.class.getResourceAsStream(CdsTraining.CLASS_LIST)) {
            assertNotNull(in, CdsTraining.CLASS_LIST + " is on the class path");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                line = line.strip();
                if (line.startsWith("org.kexecmeasured.")) ours.add(line);
            }
        }
        assertTrue(ours.size() > 100, "the list names our classes: " + ours.size());
        List<String> missing = new ArrayList<>();
        ClassLoader cl = CdsTraining.class.getClassLoader();
        for (String name : ours) {
            try {
                Class.forName(name, false, cl);
            } catch (ClassNotFoundException e) {
                missing.add(name);
            }
        }
        assertEquals(List.of(), missing, "classes of " + CdsTraining.CLASS_LIST
                + " this build does not have (regenerate it: tests/bin/cds-classlist)");
    }
}
