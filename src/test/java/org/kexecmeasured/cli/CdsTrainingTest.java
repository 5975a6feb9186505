package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.uefi.TestPayloads;
import org.kexecmeasured.util.HashAlg;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
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

    /**
     * The payload archive's training boots a UKI (systemd-stub and a Debian kernel, as the pom builds it) to its end
     * against the training TPM: a boot that failed early would leave the measured boot's lambdas out of the archive
     * without a word. The boot extends the training TPM (the boundary event into PCR 12, the payload into PCR 4 and
     * systemd-stub's sections into PCR 11, in every bank) and never reaches for the kexec loader.
     */
    @Test
    void theTrainingBootRunsToItsEnd(@TempDir Path dir) throws Exception {
        Path uki = TestPayloads.makeUki(dir.resolve("uki")).resolve("demo.efi");
        List<TrainingTpm> opened = new ArrayList<>();
        int exit = CdsTraining.trainBoot(uki, new PrintWriter(OutputStream.nullOutputStream()), opened::add);
        assertEquals(0, exit, "the training's boot --no-load");
        assertEquals(1, opened.size(), "one TPM opened");
        TrainingTpm tpm = opened.get(0);
        assertTrue(tpm.commandCounts().getOrDefault(CommandCode.PCR_EXTEND, 0L) >= 3, "extends: " + tpm.commandCounts());
        assertTrue(tpm.commandCounts().getOrDefault(CommandCode.PCR_READ, 0L) >= 1, "PCR reads: " + tpm.commandCounts());
        for (HashAlg bank : tpm.banks()) {
            // read back through TSS.Java's marshalling, as the boot read them
            byte[][] v = tpm.open().readPcrs(PcrSelection.of(bank, 4, 11, 12)).get(bank);
            for (int pcr : new int[]{4, 11, 12}) {
                assertTrue(!Arrays.equals(new byte[bank.size], v[pcr]), bank + " PCR " + pcr + " was extended");
            }
        }
    }
}
