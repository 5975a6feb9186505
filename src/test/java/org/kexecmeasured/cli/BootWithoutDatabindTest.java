package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@code boot --no-load --json} with the built-in policy, in a child JVM as the launcher starts it, writes its journal,
 * sidecar and result without loading a single class of Jackson's databind (util.JsonOut's streaming writers; the JVM's
 * own class-loading log is the oracle), and what it wrote is still what the readers take (databind parses it here).
 */
class BootWithoutDatabindTest {

    @TempDir
    static Path dir;

    @Test
    void aBootLoadsNoDatabindClass() throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        Path fw = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        Path classes = dir.resolve("classes.log");
        Path state = dir.resolve("state");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha1", "sha256", "sha384"), fw)) {
            ChildCli.Result r = ChildCli.run(List.of("-Xlog:class+load:file=" + classes), Map.of("KEXEC_MEASURED_LOCK_DIR",
                    dir.resolve("locks").toString()), null, "boot", uki.toString(), "--tpm", swtpm.tcti(), "--firmware-log",
                    fw.toString(), "--state-dir", state.toString(), "--no-load", "--json");
            assertEquals(0, r.rc(), r.err());
            List<String> loaded = Files.readAllLines(classes);
            assertTrue(loaded.stream().anyMatch(l -> l.contains(" org.kexecmeasured.util.JsonOut ")), "the class log is the boot's");
            List<String> databind = loaded.stream().filter(l -> l.contains(" com.fasterxml.jackson.databind.")).toList();
            assertEquals(List.of(), databind, "databind classes a boot loaded");
            JsonNode out = Json.MAPPER.readTree(r.out());
            assertTrue(out.path("extended").size() > 0, r.out());
            JsonNode manifest = Json.MAPPER.readTree(Files.readString(Path.of(out.path("outputs").path("manifest").asText())));
            assertEquals("kexec-measured-manifest/1", manifest.path("format").asText());
        }
    }
}
