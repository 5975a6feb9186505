package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.LoadOnly;
import org.kexecmeasured.e2e.Tpm2EventlogOracle;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A kernel prepared with {@code boot --at-shutdown} and started without the commit: the next system's
 * {@code eventlog mark-uncommitted} extends the uncommitted hand-over event (tcg2/uncommitted-handover.md) into
 * the plan's boundary PCRs and appends it to the log the sidecar carried. Real parts: the sidecar is the one the
 * kexec load carried (GNU cpio extracts it), copied by the packaged initrd copier; swtpm holds the firmware's PCRs;
 * tpm2_pcrread and tpm2_eventlog are the oracles, and the expected values are H(old ‖ H(data)) of the data the
 * document specifies.
 */
class UncommittedHandOverTest {

    @Test
    void anUncommittedPendingKernelIsMarkedOnceAndACrashKernelNever(@TempDir Path dir) throws Exception {
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, PendingHardeningTest.FW)) {
            RecordingKexec k = new RecordingKexec();
            LoadOnly.Result prepared = PendingHardeningTest.prepare(dir, swtpm, k, dir.resolve("pending"), swtpm.tcti());
            // the next system: its initrd copied the sidecar the load carried to /run/kexec-measured
            Path extra = HandOverTest.sidecar(k.initrd, prepared.plan().handOff().initrd().length, dir.resolve("initrd"));
            Path run = dir.resolve("run/kexec-measured");
            RealParts.Result copied = RealParts.runAny(List.of("env", "KEXEC_MEASURED_SIDECAR=" + extra, "KEXEC_MEASURED_RUN=" + run,
                    "sh", RealParts.repoRoot().resolve("packaging/initrd/copy-sidecar").toString()), "dash");
            assertEquals(0, copied.exit(), copied.stderr());
            JsonNode manifest = Json.MAPPER.readTree(Files.readAllBytes(run.resolve("manifest.json")));
            assertEquals("pending", manifest.get("mode").asText());
            String boundary = manifest.get("plannedBoundary").asText();
            List<Integer> pcrs = new ArrayList<>();
            for (String p : line(boundary, "pcrs").split(",")) pcrs.add(Integer.parseInt(p));
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);

            // a crash kernel's sidecar (the same files, mode crash): nothing is extended, by design
            Path crash = dir.resolve("crash");
            Files.createDirectories(crash);
            Files.copy(run.resolve("tpm2-event-log.bin"), crash.resolve("tpm2-event-log.bin"));
            Files.write(crash.resolve("manifest.json"), Json.MAPPER.writeValueAsBytes(((ObjectNode) manifest.deepCopy()).put("mode", "crash")));
            ChainFixtures.Cli c = ChainFixtures.cli(Services.DEFAULT, "eventlog", "mark-uncommitted", "--run-dir", crash.toString(),
                    "--tpm", swtpm.tcti());
            assertEquals(0, c.rc(), c.err());
            assertTrue(c.out().contains("crash kernel"), c.out());
            // nothing to mark needs no TPM: a crash kernel's sidecar, or none, with a TPM that does not answer
            String deadTpm = "swtpm:host=127.0.0.1,port=1";
            c = ChainFixtures.cli(Services.DEFAULT, "eventlog", "mark-uncommitted", "--run-dir", crash.toString(), "--tpm", deadTpm);
            assertEquals(0, c.rc(), c.err());
            assertTrue(c.out().contains("crash kernel"), c.out());
            c = ChainFixtures.cli(Services.DEFAULT, "eventlog", "mark-uncommitted", "--run-dir", dir.resolve("none").toString(),
                    "--tpm", deadTpm);
            assertEquals(0, c.rc(), c.err());
            assertTrue(c.out().contains("nothing to mark"), c.out());
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "nothing extended for a crash kernel");

            // the pending one: marked
            byte[] carriedLog = Files.readAllBytes(run.resolve("tpm2-event-log.bin"));
            c = ChainFixtures.cli(Services.DEFAULT, "eventlog", "mark-uncommitted", "--run-dir", run.toString(), "--tpm", swtpm.tcti(), "--json");
            assertEquals(0, c.rc(), c.err());
            JsonNode r = Json.MAPPER.readTree(c.out());
            assertEquals("marked", r.get("outcome").asText(), c.out());
            assertTrue(r.get("agreedBefore").asBoolean(), "the carried log replayed to the TPM before: " + c.out());
            Map<String, Map<Integer, String>> after = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);
            byte[] data = ("kexec-measured-uncommitted=1\nmode=pending\nnonce=" + line(boundary, "nonce") + "\npayload="
                    + line(boundary, "payload") + "\npcrs=" + line(boundary, "pcrs") + "\n").getBytes(StandardCharsets.UTF_8);
            for (String bank : after.keySet()) {
                HashAlg a = HashAlg.fromName(bank);
                for (int p = 0; p < 24; p++) {
                    String want = pcrs.contains(p)
                            ? Hex.of(a.extend(Hex.parse(before.get(bank).get(p)), a.digest(data))) : before.get(bank).get(p);
                    assertEquals(want, after.get(bank).get(p), bank + " PCR " + p);
                }
            }
            // the log beside it replays (tpm2_eventlog) to the TPM in every bank and PCR 0-15 (16-23 are the
            // resettable ones, which no log here describes: the TPM starts 17-22 at all ones, tpm2_eventlog at zero)
            Map<HashAlg, byte[][]> replayed = Tpm2EventlogOracle.replay(run.resolve("tpm2-event-log.bin"));
            for (String bank : after.keySet()) {
                for (int p = 0; p < 16; p++) {
                    assertEquals(after.get(bank).get(p), Hex.of(replayed.get(HashAlg.fromName(bank))[p]),
                            "tpm2_eventlog's " + bank + " PCR " + p + " = the TPM's");
                }
            }
            assertTrue(Files.isRegularFile(run.resolve("uncommitted-handover.json")));

            // a second run (the unit started again): nothing more
            c = ChainFixtures.cli(Services.DEFAULT, "eventlog", "mark-uncommitted", "--run-dir", run.toString(), "--tpm", swtpm.tcti());
            assertEquals(0, c.rc(), c.err());
            assertTrue(c.out().contains("already marked"), c.out());
            assertEquals(after, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "marked once");
            assertNotEquals(before, after);

            // a run cut short after its extends and before the log's rewrite (the carried log back in place, no
            // note): the next run finds the event in the PCRs, extends nothing again, and writes the log
            Files.write(run.resolve("tpm2-event-log.bin"), carriedLog);
            Files.delete(run.resolve("uncommitted-handover.json"));
            c = ChainFixtures.cli(Services.DEFAULT, "eventlog", "mark-uncommitted", "--run-dir", run.toString(), "--tpm", swtpm.tcti(), "--json");
            assertEquals(0, c.rc(), c.err());
            assertEquals(after, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "not extended a second time");
            JsonNode note = Json.MAPPER.readTree(Files.readAllBytes(run.resolve("uncommitted-handover.json")));
            List<Integer> extendedBefore = new ArrayList<>();
            note.get("extendedBefore").forEach(n -> extendedBefore.add(n.asInt()));
            assertEquals(pcrs, extendedBefore, note.toString());
            replayed = Tpm2EventlogOracle.replay(run.resolve("tpm2-event-log.bin"));
            for (String bank : after.keySet()) {
                for (int p = 0; p < 16; p++) {
                    assertEquals(after.get(bank).get(p), Hex.of(replayed.get(HashAlg.fromName(bank))[p]),
                            "after the recovery, tpm2_eventlog's " + bank + " PCR " + p + " = the TPM's");
                }
            }
        }
    }

    private static String line(String text, String key) {
        for (String l : text.split("\n")) if (l.startsWith(key + "=")) return l.substring(key.length() + 1);
        throw new AssertionError("no " + key + " in " + text);
    }
}
