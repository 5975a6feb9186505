package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha1", "sha256"})
class TpmCommandTest {
    @Test
    void infoJson(Swtpm swtpm) throws Exception {
        ChainFixtures.Cli r = ChainFixtures.cli("tpm", "info", "--tpm", swtpm.tcti(), "--json");
        assertEquals(0, r.rc(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("IBM", j.get("manufacturer").asText());
        assertEquals("[\"sha1\",\"sha256\"]", j.get("activeBanks").toString());
        assertTrue(j.get("maxCommandSize").asInt() >= 1024);
        assertEquals(swtpm.tcti(), j.get("tcti").asText());
        ChainFixtures.Cli text = ChainFixtures.cli("tpm", "info", "--tpm", swtpm.tcti());
        assertEquals(0, text.rc(), text.err());
        assertTrue(text.out().contains("Active PCR banks:  sha1, sha256"), text.out());
    }

    @Test
    void pcrsMatchTpm2Pcrread(Swtpm swtpm) throws Exception {
        try (var tpm = swtpm.open()) {
            for (int pcr : new int[]{0, 3}) {
                tpm.extend(pcr, Map.of(HashAlg.SHA1, HashAlg.SHA1.digest(new byte[]{(byte) pcr}),
                        HashAlg.SHA256, HashAlg.SHA256.digest(new byte[]{(byte) pcr})));
            }
        }
        ChainFixtures.Cli r = ChainFixtures.cli("tpm", "pcrs", "--tpm", swtpm.tcti(), "--json", "0-3,16");
        assertEquals(0, r.rc(), r.err());
        JsonNode banks = new ObjectMapper().readTree(r.out()).get("banks");
        Map<String, Map<Integer, String>> oracle = Tpm2Tools.pcrread(swtpm.tcti(), "sha1:0,1,2,3,16+sha256:0,1,2,3,16");
        for (String bank : List.of("sha1", "sha256")) {
            for (int pcr : new int[]{0, 1, 2, 3, 16}) {
                assertEquals(oracle.get(bank).get(pcr), banks.get(bank).get(Integer.toString(pcr)).asText(), bank + ":" + pcr);
            }
        }
        // text form: tpm2_pcrread's layout, one bank
        ChainFixtures.Cli t = ChainFixtures.cli("tpm", "pcrs", "--tpm", swtpm.tcti(), "--bank", "sha256", "3");
        assertEquals(0, t.rc(), t.err());
        assertEquals("  sha256:\n    3 : 0x" + oracle.get("sha256").get(3).toUpperCase() + "\n", t.out());
    }

    @Test
    void badInputExitsTwoWithOneLine(Swtpm swtpm) {
        ChainFixtures.Cli r = ChainFixtures.cli("tpm", "pcrs", "--tpm", swtpm.tcti(), "--bank", "sha512");
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("sha512 is not active"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        ChainFixtures.Cli r2 = ChainFixtures.cli("tpm", "pcrs", "--tpm", swtpm.tcti(), "0-30");
        assertEquals(2, r2.rc());
        assertTrue(r2.err().contains("PCR 24"), r2.err());
        ChainFixtures.Cli r3 = ChainFixtures.cli("tpm", "info", "--tpm", "tabrmd:");
        assertEquals(2, r3.rc());
        assertTrue(r3.err().contains("not supported"), r3.err());
        ChainFixtures.Cli r4 = ChainFixtures.cli("tpm", "info", "--tpm", "device:/nonexistent/tpmrm7");
        assertEquals(2, r4.rc());
        assertTrue(r4.err().contains("/nonexistent/tpmrm7 does not exist"), r4.err());
    }

    /** Without --tpm the TCTI comes from TPM2TOOLS_TCTI, as for tpm2-tools (a subprocess: env of its own). */
    @Test
    void honoursTpm2toolsTctiEnvironment(Swtpm swtpm) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "org.kexecmeasured.cli.Main", "tpm", "info", "--json"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("TPM2TOOLS_TCTI", swtpm.tcti());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertEquals(swtpm.tcti(), new ObjectMapper().readTree(out).get("tcti").asText());
        assertFalse(out.contains("TPM ERROR"));
    }
}
