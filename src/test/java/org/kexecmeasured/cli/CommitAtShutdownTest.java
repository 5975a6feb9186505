package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.LoadOnly;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.boot.PlannedRecord;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.kexec.FileModeLoader;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code boot --at-shutdown} then {@code commit-pending} (what the system-shutdown hook runs), with systemd's
 * last measurements in between: the boundary and the payload's records land after "shutdown" and "final" in
 * PCR 11, and the TPM then holds what the committed plan predicted — which a commit at load time could not
 * have predicted. systemd's extends are made by tpm2_pcrextend (what systemd-pcrphase 252 does: the word's
 * hash into every bank, no log); the expected PCR 11 is computed here with JCA from those words and the
 * prepared plan's records.
 */
class CommitAtShutdownTest {

    @Test
    void theCommitWaitsForSystemdsLastPhases(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki"));
        Path fw = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        Path pending = dir.resolve("pending");
        Path state = dir.resolve("state");
        RecordingKexec k = new RecordingKexec();
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fw)) {
            MeasuredBoot.Request req = new MeasuredBoot.Request(Files.readAllBytes(uki.resolve("demo.efi")), "demo.efi", null, fw,
                    state, null, BootPolicy.BUILTIN_DEFAULT, "test", 120_000, OsLogs.NONE);
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);
            LoadOnly.Result prepared;
            try (Tpm tpm = swtpm.open()) {
                // systemd 252 logs its phases nowhere: PCR 11 will diverge from the log by the commit, which the
                // preparation's policy must tolerate (--tolerate-divergent 11)
                prepared = LoadOnly.prepareForShutdown(req, tpm, Decider.builtin(Set.of(11)),
                        new FileModeLoader(k.loader(), KexecFileLoader.Target.REBOOT), pending, "/usr/bin/kexec-measured",
                        Set.of(11), swtpm.tcti());
            }
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "preparing extends nothing");
            assertTrue(k.loaded && Files.isRegularFile(pending.resolve(PendingBoot.FILE)));
            // the saved kernel and initrd are named by their SHA-256 (checked again by the commit): coreutils' digests
            com.fasterxml.jackson.databind.JsonNode handOff = org.kexecmeasured.util.Json.MAPPER
                    .readTree(pending.resolve(PendingBoot.FILE).toFile()).path("handOff");
            for (String f : List.of("kernel", "initrd")) {
                String sha = org.kexecmeasured.payload.RealParts.run(
                        List.of("sha256sum", pending.resolve(f + ".bin").toString()), "coreutils").split(" ")[0];
                assertEquals(sha, handOff.path(f + "Sha256").asText(), f);
            }

            // systemd on the way down: systemd-pcrphase measures "shutdown", then "final" into PCR 11
            for (String word : List.of("shutdown", "final")) {
                StringBuilder sel = new StringBuilder("11:");
                for (String b : List.of("sha1", "sha256", "sha384")) {
                    sel.append(b.equals("sha1") ? "" : ",").append(b).append('=')
                            .append(Hex.of(HashAlg.fromName(b).digest(word.getBytes(StandardCharsets.US_ASCII))));
                }
                Tpm2Tools.run(swtpm.tcti(), "tpm2_pcrextend", sel.toString());
            }
            String pcr11AfterPhases = Tpm2Tools.pcrread(swtpm.tcti(), "sha256:11").get("sha256").get(11);

            // the same pending boot prepared without that tolerance: the commit refuses (exit 3) before any extend
            Path strict = dir.resolve("pending-strict");
            Files.createDirectories(strict);
            for (String f : List.of(PendingBoot.FILE, "kernel.bin", "initrd.bin", "tool")) {
                Files.copy(pending.resolve(f), strict.resolve(f));
            }
            String json = Files.readString(strict.resolve(PendingBoot.FILE));
            String untolerant = json.replaceFirst("\"tolerateDivergent\" : \\[ 11 \\]", "\"tolerateDivergent\" : [ ]");
            assertNotEquals(json, untolerant, "the pending file records the tolerance");
            Files.writeString(strict.resolve(PendingBoot.FILE), untolerant);
            Map<String, Map<Integer, String>> beforeCommit = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);
            ChainFixtures.Cli refused = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "commit-pending", strict.toString(),
                    "--tpm", swtpm.tcti());
            assertEquals(3, refused.rc(), refused.out() + refused.err());
            assertTrue(refused.err().contains("PCR 11"), refused.err());
            assertEquals(beforeCommit, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "a refused commit extends nothing");
            assertFalse(Files.exists(state.resolve("journal.jsonl")), "and starts no journal");

            ChainFixtures.Cli c = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "commit-pending", pending.toString(),
                    "--tpm", swtpm.tcti(), "--json");
            assertEquals(0, c.rc(), c.out() + c.err());
            assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load",
                    "memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load"), k.calls, "loaded again with the final sidecar");
            assertFalse(Files.exists(pending.resolve(PendingBoot.FILE)), "committed once");

            // PCR 11 = after the phases, then the prepared plan's PCR 11 records in order (the boundary first)
            byte[] expected = Hex.parse(pcr11AfterPhases);
            for (PlannedRecord r : prepared.plan().extendRecords()) {
                if (r.measurement().pcr() == 11) expected = HashAlg.SHA256.extend(expected, r.measurement().digests().get(HashAlg.SHA256));
            }
            String now = Tpm2Tools.pcrread(swtpm.tcti(), "sha256:11").get("sha256").get(11);
            assertEquals(Hex.of(expected), now);
            assertNotEquals(Hex.of(prepared.plan().predictedPcrs().values().get(HashAlg.SHA256).get(11)), now,
                    "what a commit at load time would have predicted is not what the next system gets");
            // the committed log: the same boundary (nonce of the preparation) and records after the firmware's
            EventLog committed = EventLog.parse(Files.readAllBytes(state.resolve("eventlog.bin")));
            Event boundary = committed.events().get(EventLog.parse(Files.readAllBytes(fw)).events().size());
            assertEquals(Hex.of(prepared.plan().boundary().taggedEvent()), Hex.of(boundary.data()));
            // systemd 252 logs its phases nowhere: the manifest says PCR 11 diverged before the boundary (with the
            // value the TPM held after "final"), it does not pretend the log explains it
            String manifest = Files.readString(state.resolve("initrd-extra/.extra/kexec-measured/manifest.json"));
            assertTrue(manifest.contains("\"tpm\" : \"" + pcr11AfterPhases + "\""), manifest);
        }
    }
}
