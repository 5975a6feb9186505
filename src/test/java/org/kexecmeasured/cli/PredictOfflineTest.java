package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.SyntheticLog;
import org.kexecmeasured.policy.testing.SecretClients;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code predict --pcrs FILE}: the prediction needs no TPM. A snapshot written by tpm2_pcrread gives
 * the same verdicts offline as the live TPM gives online — except for what lives in the TPM (a
 * persistent object), which is "unknown" offline, with the reason.
 */
class PredictOfflineTest {

    @Test
    void snapshotGivesTheLiveVerdictsWithoutATpm(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        Path fw = dir.resolve("fw.bin");
        Files.write(fw, SyntheticLog.generate(List.of(HashAlg.SHA256), 0, 1).toBytes());
        Path snapshot = dir.resolve("pcrs.yaml");
        Path policy = dir.resolve("policy.yaml");
        JsonNode online;
        try (Swtpm swtpm = Swtpm.start(List.of("sha256"))) {
            SecretClients c = new SecretClients(swtpm, dir);
            Path[] a = c.tpm2Seal("a", "sha256:7", "a".getBytes(StandardCharsets.UTF_8));
            c.tpm2Seal("b", "sha256:7,11", "b".getBytes(StandardCharsets.UTF_8));
            // a persistent object lives in the TPM: offline it cannot be read
            c.tpm2Persist(a, "0x81000042");
            Files.writeString(policy, String.join("\n", "version: 1", "secrets:",
                    "  - {name: a, must-remain: any, source: {tpm2-object: {public: a.pub, private: a.priv, pcrs: 'sha256:7'}}}",
                    "  - {name: b, must-remain: any, source: {tpm2-object: {public: b.pub, private: b.priv, pcrs: 'sha256:7,11'}}}",
                    "  - {name: p, must-remain: any, source: {tpm2-handle: {handle: 0x81000042, pcrs: 'sha256:7'}}}", ""));
            ChainFixtures.Cli p = ChainFixtures.cli(0, "predict", "--policy", policy.toString(), uki.toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", fw.toString(), "--json");
            online = Json.MAPPER.readTree(p.out());
            // the snapshot, as tpm2-tools prints it
            Files.writeString(snapshot, c.ok("tpm2_pcrread", "sha256:all"));
        }
        // the swtpm is gone: offline from here on
        ChainFixtures.Cli p = ChainFixtures.cli(0, "predict", "--policy", policy.toString(), uki.toString(), "--pcrs", snapshot.toString(),
                "--firmware-log", fw.toString(), "--json");
        JsonNode offline = Json.MAPPER.readTree(p.out());
        assertTrue(offline.path("tpmCommands").isMissingNode(), "no TPM at all");
        Map<String, JsonNode> on = new HashMap<>();
        Map<String, JsonNode> off = new HashMap<>();
        online.path("decision").path("secrets").forEach(s -> on.put(s.path("name").asText(), s));
        offline.path("decision").path("secrets").forEach(s -> off.put(s.path("name").asText(), s));
        assertEquals("reachable", on.get("a").path("verdict").asText());
        assertEquals("unreachable", on.get("b").path("verdict").asText());
        assertEquals("reachable", on.get("p").path("verdict").asText(), on.get("p").toString());
        for (String s : List.of("a", "b")) {
            assertEquals(on.get(s).path("verdict"), off.get(s).path("verdict"), s);
            // the reasons differ only in the predicted values (each plan draws its own boundary nonce)
            assertEquals(on.get(s).path("reason").asText().replaceAll("[0-9a-f]{64}", "…"),
                    off.get(s).path("reason").asText().replaceAll("[0-9a-f]{64}", "…"), s);
        }
        assertEquals("unknown", off.get("p").path("verdict").asText());
        assertTrue(off.get("p").path("reason").asText().contains("cannot be read offline"), off.get("p").toString());
        assertFalse(offline.path("predictedPcrs").path("sha256").path("11").isMissingNode(), p.out());
        // predicted values depend on the boundary's nonce: equal in everything but the boundary PCRs' values
        assertEquals(online.path("events").size(), offline.path("events").size());
    }
}
