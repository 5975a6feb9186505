package org.kexecmeasured.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Order against the OS's own last measurements (tests/e2e "systemd"): systemd 252 is init in sd1 (booted
 * by OVMF from a UKI, so systemd-pcrphase measures into PCR 11). {@code boot sd2.efi --at-shutdown} loads
 * and extends nothing; {@code systemctl kexec} stops the services — systemd-pcrphase measures "shutdown"
 * and "final" into PCR 11 — and systemd-shutdown runs the project's hook, which commits; then the kexec.
 * The oracle is sd2's TPM: its PCR 11 is sd1's PCR 11 extended with those two words (systemd's phase
 * names, SHA-256 of the word) and then the boundary and sd2.efi's records — the commit came last.
 */
@Tag("e2e")
class SystemdE2eTest {
    static Path run;

    @BeforeAll
    static void boot() {
        run = E2eRun.run("systemd");
    }

    @Test
    void preparingExtendsNothing() {
        Path s1 = E2eRun.stage(run, "sd1");
        assertEquals("0", E2eRun.text(s1.resolve("boot.rc")).strip(), () -> E2eRun.text(s1.resolve("boot.err")));
        Map<HashAlg, byte[][]> before = E2eRun.pcrs(s1.resolve("pcrs-before-load.txt"));
        Map<HashAlg, byte[][]> after = E2eRun.pcrs(s1.resolve("pcrs-after-load.txt"));
        for (HashAlg a : before.keySet()) {
            for (int i = 0; i < 24; i++) {
                if (i == 10) continue; // IMA may measure meanwhile
                assertArrayEquals(before.get(a)[i], after.get(a)[i], a + " PCR " + i);
            }
        }
    }

    @Test
    void theHookCommittedAfterSystemdsShutdownAndFinalPhases() throws IOException {
        Path s1 = E2eRun.stage(run, "sd1");
        Path s2 = E2eRun.stage(run, "sd2");
        assertEquals("sd2", E2eRun.text(s2.resolve("uki")).strip());
        JsonNode manifest = Json.MAPPER.readTree(s2.resolve("sidecar/manifest.json").toFile());
        assertEquals("kexec-measured-manifest/1", manifest.path("format").asText(), "the committed sidecar, not the pending one");
        byte[] pcr11 = E2eRun.pcrs(s1.resolve("pcrs-after-load.txt")).get(HashAlg.SHA256)[11];
        for (String word : List.of("shutdown", "final")) {
            pcr11 = HashAlg.SHA256.extend(pcr11, HashAlg.SHA256.digest(word.getBytes(StandardCharsets.US_ASCII)));
        }
        EventLog side = E2eRun.log(s2.resolve("sidecar/tpm2-event-log.bin"));
        boolean afterBoundary = false;
        for (Event e : side.events()) {
            if (e.pcrIndex() != 11) continue;
            if (MainScenarioE2eTest.isBoundary(e)) afterBoundary = true;
            if (afterBoundary) pcr11 = HashAlg.SHA256.extend(pcr11, e.digest(HashAlg.SHA256));
        }
        assertTrue(afterBoundary);
        assertEquals(Hex.of(pcr11), Hex.of(E2eRun.pcrs(s2.resolve("pcrs.txt")).get(HashAlg.SHA256)[11]),
                "PCR 11 = sd1's, then shutdown and final, then the boundary and sd2.efi's records");
        // systemd 252 logs its phases nowhere: the manifest names PCR 11 as diverged before the boundary
        boolean listed = false;
        for (JsonNode d : manifest.path("divergentBeforeBoot")) listed |= d.path("pcr").asInt() == 11;
        assertTrue(listed, manifest.toString());
        // every other PCR the log does explain replays (PCR 10: IMA measures in sd2 as well)
        Map<HashAlg, byte[][]> tpm = E2eRun.pcrs(s2.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> replay = Replay.replay(side);
        for (HashAlg a : tpm.keySet()) {
            for (int i : List.of(0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14)) {
                assertEquals(Hex.of(tpm.get(a)[i]), Hex.of(replay.get(a)[i]), a + " PCR " + i);
            }
        }
        assertFalse(manifest.path("expectedPcrs").isMissingNode());
    }
}
