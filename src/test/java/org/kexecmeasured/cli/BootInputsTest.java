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

    /**
     * A fresh TPM (all zero) against a real firmware log: every PCR the log extends disagrees. The
     * built-in policy refuses (exit 3, warnings on stderr, no PCR changed, no journal); tolerated PCRs
     * are reported (output and manifest), never hidden.
     */
    @Test
    void pcrsTheFirmwareLogDoesNotExplainAreRefusedUnlessTolerated() throws Exception {
        String fw = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString();
        Map<Integer, String> before = pcrs();
        Path refused = dir.resolve("state-divergent-refused");
        ChainFixtures.Cli no = ChainFixtures.cli(Main.EXIT_POLICY_DENIED, "boot", uki.resolve("demo.efi").toString(), "--tpm",
                SWTPM.swtpm().tcti(), "--firmware-log", fw, "--state-dir", refused.toString(), "--no-load");
        assertTrue(no.err().contains("warning: sha256 PCR 7 disagrees with the firmware log"), no.err());
        assertTrue(no.err().contains("refused: the firmware log does not explain sha256 PCR 7"), no.err());
        assertEquals("", no.out(), "warnings go to stderr");
        assertEquals(before, pcrs(), "nothing extended");
        assertFalse(Files.exists(refused.resolve("journal.jsonl")));
        // tolerating some but not all divergent PCRs is still a refusal
        ChainFixtures.cli(Main.EXIT_POLICY_DENIED, "boot", uki.resolve("demo.efi").toString(), "--tpm",
                SWTPM.swtpm().tcti(), "--firmware-log", fw, "--state-dir", refused.toString(), "--no-load",
                "--tolerate-divergent", "7");
        assertEquals(before, pcrs(), "nothing extended");

        String all = "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";
        Path state = dir.resolve("state-divergent");
        ChainFixtures.Cli c = ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", SWTPM.swtpm().tcti(),
                "--firmware-log", fw, "--state-dir", state.toString(), "--no-load", "--json", "--tolerate-divergent", all);
        JsonNode j = new ObjectMapper().readTree(c.out());
        assertTrue(j.path("divergent").size() >= 8, c.out());
        boolean pcr7 = false;
        for (JsonNode d : j.path("divergent")) pcr7 |= d.path("pcr").asInt() == 7;
        assertTrue(pcr7, "PCR 7 (Secure Boot policy) reported");
        JsonNode manifest = new ObjectMapper().readTree(state.resolve("initrd-extra/.extra/kexec-measured/manifest.json").toFile());
        assertEquals(j.path("divergent").size(), manifest.path("divergentBeforeBoot").size());
        // and the text output warns, on stderr
        Path state2 = dir.resolve("state-divergent-text");
        ChainFixtures.Cli t = ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", SWTPM.swtpm().tcti(),
                "--firmware-log", fw, "--state-dir", state2.toString(), "--no-load", "--tolerate-divergent", all);
        assertTrue(t.err().contains("warning: sha256 PCR 7 disagrees with the firmware log"), t.err());
        assertFalse(t.out().contains("PCR 7 disagrees"), t.out());
        assertTrue(t.out().contains("not loaded (--no-load)"), t.out());
    }

    /** Options are checked when parsed, before the payload is read or the TPM opened (exit 2). */
    @Test
    void durationsNeedAUnitAndAPositiveBudget() {
        Map<Integer, String> before = pcrs();
        for (String budget : new String[]{"0s", "0ms", "-5s", "5000", "30", "1.5s", "10y"}) {
            Path state = dir.resolve("state-budget");
            ChainFixtures.Cli r = ChainFixtures.cli(Main.EXIT_BAD_INPUT, "boot", uki.resolve("demo.efi").toString(), "--tpm",
                    SWTPM.swtpm().tcti(), "--firmware-log", Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString(),
                    "--state-dir", state.toString(), "--no-load", "--time-budget", budget);
            assertTrue(r.err().contains("--time-budget"), budget + ": " + r.err());
            assertFalse(Files.exists(state), "nothing written for " + budget);
            ChainFixtures.Cli e = ChainFixtures.cli(Main.EXIT_BAD_INPUT, "emulate", uki.resolve("demo.efi").toString(),
                    "--time-budget", budget);
            assertTrue(e.err().contains("--time-budget"), budget + ": " + e.err());
        }
        ChainFixtures.cli(Main.EXIT_BAD_INPUT, "boot", uki.resolve("demo.efi").toString(), "--tpm", SWTPM.swtpm().tcti(),
                "--no-load", "--tolerate-divergent", "24", "--state-dir", dir.resolve("state-tol").toString());
        assertEquals(before, pcrs(), "no PCR changed");
    }
}
