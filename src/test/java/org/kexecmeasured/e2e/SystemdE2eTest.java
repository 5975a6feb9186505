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
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

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
        // PCR 10: IMA may measure meanwhile
        E2eRun.assertSamePcrsButIma(E2eRun.pcrs(s1.resolve("pcrs-before-load.txt")),
                E2eRun.pcrs(s1.resolve("pcrs-after-load.txt")), "preparing");
    }

    @Test
    void theHookCommittedAfterSystemdsShutdownAndFinalPhases() throws IOException {
        Path s1 = E2eRun.stage(run, "sd1");
        Path s2 = E2eRun.stage(run, "sd2");
        assertEquals("sd2", E2eRun.text(s2.resolve("uki")).strip());
        JsonNode manifest = Json.MAPPER.readTree(s2.resolve("sidecar/manifest.json").toFile());
        assertEquals("kexec-measured-manifest/1", manifest.path("format").asText(),
                "the committed sidecar, not the pending one (the hook's commit failed or never ran)");
        byte[] start = E2eRun.pcrs(s1.resolve("pcrs-after-load.txt")).get(HashAlg.SHA256)[11];
        EventLog side = E2eRun.log(s2.resolve("sidecar/tpm2-event-log.bin"));
        byte[] pcr11 = pcr11After(start, List.of("shutdown", "final"), side);
        Map<HashAlg, byte[][]> sysfs = E2eRun.pcrs(s2.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> pcrread = Tpm2EventlogOracle.pcrread(s2.resolve("tpm2_pcrread.txt"));
        if (Arrays.equals(pcr11After(start, List.of("final", "shutdown"), side), sysfs.get(HashAlg.SHA256)[11])) {
            fail("the commit came after both phases, but systemd measured final before shutdown: the test bed's unit "
                    + "order (tests/e2e/systemd/systemd-pcrphase.service.d) did not hold");
        }
        assertEquals(Hex.of(pcr11), Hex.of(sysfs.get(HashAlg.SHA256)[11]),
                "PCR 11 = sd1's, then shutdown and final, then the boundary and sd2.efi's records");
        assertEquals(Hex.of(pcr11), Hex.of(pcrread.get(HashAlg.SHA256)[11]), "PCR 11 as tpm2_pcrread reads it");
        // systemd 252 logs its phases nowhere: the manifest names PCR 11 as diverged before the boundary
        boolean listed = false;
        for (JsonNode d : manifest.path("divergentBeforeBoot")) listed |= d.path("pcr").asInt() == 11;
        assertTrue(listed, manifest.toString());
        assertFalse(manifest.path("expectedPcrs").isMissingNode());
    }

    /** sha256 PCR 11 from {@code start}: systemd's phase words in this order, then the log's records from its boundary on. */
    static byte[] pcr11After(byte[] start, List<String> phases, EventLog log) {
        byte[] v = start;
        for (String word : phases) v = HashAlg.SHA256.extend(v, HashAlg.SHA256.digest(word.getBytes(StandardCharsets.US_ASCII)));
        boolean afterBoundary = false;
        for (Event e : log.events()) {
            if (e.pcrIndex() != 11) continue;
            if (MainScenarioE2eTest.isBoundary(e)) afterBoundary = true;
            if (afterBoundary) v = HashAlg.SHA256.extend(v, e.digest(HashAlg.SHA256));
        }
        assertTrue(afterBoundary, "no boundary in PCR 11 of the continued log");
        return v;
    }

    /**
     * sd2's PCRs (the kernel's sysfs and tpm2_pcrread) equal the replay of the continued log the hook committed,
     * ours and tpm2_eventlog's, in PCRs 0–15 but 10 and 11: PCR 10 is the log plus sd2's own IMA list, PCR 11
     * carries systemd 252's unlogged phases (checked by its order above).
     */
    @Test
    void sd2PcrsReplayFromTheCommittedLogOursAndTpm2Eventlog() {
        Path s2 = E2eRun.stage(run, "sd2");
        Path logFile = s2.resolve("sidecar/tpm2-event-log.bin");
        Map<HashAlg, byte[][]> sysfs = E2eRun.pcrs(s2.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> pcrread = Tpm2EventlogOracle.pcrread(s2.resolve("tpm2_pcrread.txt"));
        Map<HashAlg, byte[][]> ours = Replay.replay(E2eRun.log(logFile));
        Map<HashAlg, byte[][]> theirs = Tpm2EventlogOracle.replay(logFile);
        assertEquals(sysfs.keySet(), pcrread.keySet(), "banks: sysfs and tpm2_pcrread");
        for (HashAlg a : sysfs.keySet()) {
            for (int i = 0; i < 16; i++) {
                assertEquals(Hex.of(sysfs.get(a)[i]), Hex.of(pcrread.get(a)[i]), a + " PCR " + i + ": sysfs and tpm2_pcrread");
                if (i == 11) continue;
                if (i == 10) {
                    assertArrayEquals(sysfs.get(a)[10], E2eRun.withIma(ours.get(a)[10], s2.resolve("ima.bin"), a),
                            a + " PCR 10 = the continued log + sd2's IMA list");
                    continue;
                }
                assertEquals(Hex.of(sysfs.get(a)[i]), Hex.of(ours.get(a)[i]), a + " PCR " + i + " (our replay)");
                assertEquals(Hex.of(sysfs.get(a)[i]), Hex.of(theirs.get(a)[i]), a + " PCR " + i + " (tpm2_eventlog)");
            }
        }
    }
}
