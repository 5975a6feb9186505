package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad inputs are refused before anything reaches the TPM; a firmware log that does not explain the
 * TPM's PCRs is reported (output and manifest), never hidden.
 */
class BootInputsTest {

    @RegisterExtension
    static SwtpmExtension SWTPM = SwtpmExtension.withBanks("sha256");

    @TempDir
    static Path dir;
    static Path uki;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
    }

    private static Map<Integer, String> pcrs() {
        return Tpm2Tools.pcrread(SWTPM.swtpm().tcti(), "sha256:all").get("sha256");
    }

    @Test
    void badInputsTouchNeitherTheTpmNorTheStateDirectory() throws Exception {
        Map<Integer, String> before = pcrs();
        Path notPe = dir.resolve("not-pe.efi");
        Files.write(notPe, new byte[]{'M', 'Z', 0, 0});
        String tcti = SWTPM.swtpm().tcti();
        String[][] cases = {
            {uki.resolve("demo.efi").toString(), "--firmware-log", Fixtures.eventlogs().resolve(Fixtures.BAD).toString()},
            {uki.resolve("demo.efi").toString(), "--firmware-log", dir.resolve("missing.bin").toString()},
            {notPe.toString(), "--firmware-log", Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString()},
            {dir.resolve("missing.efi").toString(), "--firmware-log", Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString()},
        };
        int i = 0;
        for (String[] c : cases) {
            Path state = dir.resolve("state-bad-" + i++);
            String[] args = new String[c.length + 6];
            args[0] = "boot";
            System.arraycopy(c, 0, args, 1, c.length);
            System.arraycopy(new String[]{"--tpm", tcti, "--state-dir", state.toString(), "--no-load"}, 0, args, c.length + 1, 5);
            ChainFixtures.Cli r = ChainFixtures.cli(Main.EXIT_BAD_INPUT, args);
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("kexec-measured: error: "), r.err());
            assertFalse(Files.exists(state.resolve("journal.jsonl")), "journal for " + String.join(" ", c));
        }
        assertEquals(before, pcrs(), "no PCR changed");
    }

    @Test
    void pcrsTheFirmwareLogDoesNotExplainAreReported() throws Exception {
        // a fresh TPM (all zero) against a real firmware log: every PCR the log extends disagrees
        Path state = dir.resolve("state-divergent");
        ChainFixtures.Cli c = ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", SWTPM.swtpm().tcti(),
                "--firmware-log", Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString(),
                "--state-dir", state.toString(), "--no-load", "--json");
        JsonNode j = new ObjectMapper().readTree(c.out());
        assertTrue(j.path("divergent").size() >= 8, c.out());
        boolean pcr7 = false;
        for (JsonNode d : j.path("divergent")) pcr7 |= d.path("pcr").asInt() == 7;
        assertTrue(pcr7, "PCR 7 (Secure Boot policy) reported");
        JsonNode manifest = new ObjectMapper().readTree(state.resolve("initrd-extra/.extra/kexec-measured/manifest.json").toFile());
        assertEquals(j.path("divergent").size(), manifest.path("divergentBeforeBoot").size());
        // and the text output warns
        Path state2 = dir.resolve("state-divergent-text");
        ChainFixtures.Cli t = ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", SWTPM.swtpm().tcti(),
                "--firmware-log", Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString(),
                "--state-dir", state2.toString(), "--no-load");
        assertTrue(t.out().contains("WARNING: sha256 PCR 7 already disagrees with the firmware log"), t.out());
        assertTrue(t.out().contains("not loaded (--no-load)"), t.out());
    }
}
