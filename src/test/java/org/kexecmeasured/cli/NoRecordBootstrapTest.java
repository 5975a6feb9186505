package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.testing.Swtpm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Start-up: a measured {@code boot --no-load} never runs a record's generated equals, hashCode or toString. Their
 * first call bootstraps through {@code java.lang.runtime.ObjectMethods}, which spins ~20 method-handle classes on the
 * command's thread (tens of CPU-ms, and class-data sharing cannot keep them); the records the boot compares or hashes
 * write those methods out (efi.Guid, TssTpm's PCR slot, VariableStore.Key). The oracle is the JVM's class-loading log
 * of a real boot (a child JVM started as the launcher starts it, against swtpm): ObjectMethods is never loaded. When
 * this fails, a JFR recording with jdk.ClassLoad stack traces names the record.
 */
class NoRecordBootstrapTest {

    @Test
    void aBootLoadsNoObjectMethods(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        Path fwFile = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
        Path classes = dir.resolve("class-load.log");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            ChildCli.Result r = ChildCli.run(List.of("-Xlog:class+load:file=" + classes), Map.of("KEXEC_MEASURED_LOCK_DIR",
                    dir.resolve("locks").toString()), null, "boot", uki.toString(), "--tpm", swtpm.tcti(), "--firmware-log",
                    fwFile.toString(), "--state-dir", dir.resolve("state").toString(), "--no-load", "--json");
            assertEquals(0, r.rc(), r.err());
        }
        List<String> loaded = Files.readAllLines(classes);
        assertTrue(loaded.stream().anyMatch(l -> l.contains(" org.kexecmeasured.boot.MeasuredBoot ")), "the log names the boot's classes");
        assertFalse(loaded.stream().anyMatch(l -> l.contains(" java.lang.runtime.ObjectMethods ")),
                "a record's generated equals/hashCode/toString ran in the boot (java.lang.runtime.ObjectMethods was loaded)");
    }
}
