package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Commit;
import org.kexecmeasured.boot.Decision;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.Loader;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.boot.RefusedException;
import org.kexecmeasured.boot.Sidecar;
import org.kexecmeasured.boot.StalePlanException;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.eventlog.export.CelJson;
import org.kexecmeasured.tpm.PcrSnapshot;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The boot as plan → decide → load → commit, against a real swtpm (three banks, brought to the state of
 * a real firmware log) with the test UKI (systemd-stub 252 + Debian kernel). tpm2_pcrread is the oracle
 * for what the TPM holds; command codes are the TPM 2.0 spec's (Part 2, TPM_CC), not our constants.
 */
class PlanCommitTest {

    /** TPM_CC values from TPM 2.0 Part 2, table 12. */
    static final int TPM_CC_GET_CAPABILITY = 0x17A;
    static final int TPM_CC_GET_RANDOM = 0x17B;
    static final int TPM_CC_PCR_READ = 0x17E;
    static final int TPM_CC_PCR_EXTEND = 0x182;
    static final List<String> BANKS = List.of("sha1", "sha256", "sha384");
    static final String ALL = "sha1:all+sha256:all+sha384:all";

    @TempDir
    static Path dir;
    static Path uki;
    static Path fwFile;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
        fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
    }

    private static MeasuredBoot.Request request(Path state) throws Exception {
        return new MeasuredBoot.Request(Files.readAllBytes(uki.resolve("demo.efi")), "demo.efi", null, fwFile, state,
                null, BootPolicy.BUILTIN_DEFAULT, "test", 120_000);
    }

    private static SortedMap<Integer, Long> sent(SortedMap<Integer, Long> after, SortedMap<Integer, Long> before) {
        SortedMap<Integer, Long> d = new TreeMap<>();
        after.forEach((cc, n) -> {
            long x = n - before.getOrDefault(cc, 0L);
            if (x != 0) d.put(cc, x);
        });
        return d;
    }

    @Test
    void aPlanSendsOnlyReadsAndLeavesEveryPcrAsItWas() throws Exception {
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            Plan plan;
            SortedMap<Integer, Long> sent;
            try (Tpm tpm = swtpm.open()) {
                SortedMap<Integer, Long> c0 = tpm.commandCounts();
                plan = MeasuredBoot.plan(request(dir.resolve("state-plan")), tpm);
                sent = sent(tpm.commandCounts(), c0);
            }
            // 1 GetCapability (banks), 24 PCRs × 3 banks at 8 digests per TPM2_PCR_Read = 9 reads, 1 GetRandom (nonce)
            assertEquals(Map.of(TPM_CC_GET_CAPABILITY, 1L, TPM_CC_PCR_READ, 9L, TPM_CC_GET_RANDOM, 1L), sent);
            assertEquals(sent, plan.stats().tpmCommands(), "the plan's own count");
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "no PCR changed in any bank");
            assertFalse(Files.exists(dir.resolve("state-plan")), "a plan writes nothing");
            // the plan started from exactly what tpm2_pcrread sees, and predicts a change in every boundary PCR
            for (String b : BANKS) {
                HashAlg a = HashAlg.fromName(b);
                for (int p = 0; p < 24; p++) {
                    assertEquals(before.get(b).get(p), Hex.of(plan.pcrsBefore().values().get(a).get(p)), b + " PCR " + p);
                }
                for (int p : BootPolicy.BUILTIN_DEFAULT.boundarySet()) {
                    assertNotEquals(before.get(b).get(p), Hex.of(plan.predictedPcrs().values().get(a).get(p)), b + " PCR " + p);
                }
            }
        }
    }

    @Test
    void aCommitGivesThePredictedPcrsInEveryBankAndThePredictedLogByteForByte() throws Exception {
        Path state = dir.resolve("state-commit");
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            Plan plan;
            Sidecar sidecar;
            Commit.Result committed;
            SortedMap<Integer, Long> sent;
            try (Tpm tpm = swtpm.open()) {
                plan = MeasuredBoot.plan(request(state), tpm);
                sidecar = Sidecar.from(plan, Map.of());
                SortedMap<Integer, Long> c0 = tpm.commandCounts();
                committed = Commit.commit(plan, tpm, state);
                sent = sent(tpm.commandCounts(), c0);
            }
            Map<String, Map<Integer, String>> after = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            for (String b : BANKS) {
                for (int p = 0; p < 24; p++) {
                    assertEquals(after.get(b).get(p), Hex.of(plan.predictedPcrs().values().get(HashAlg.fromName(b)).get(p)),
                            b + " PCR " + p + ": tpm2_pcrread vs the plan's prediction");
                }
            }
            assertArrayEquals(plan.predictedLog().toBytes(), committed.log().toBytes(), "committed log = predicted log");
            assertArrayEquals(sidecar.eventLog(), committed.log().toBytes(), "the sidecar made before the commit holds it");
            // the commit: the boundary-set PCRs read again (6 PCRs × 3 banks / 8 → 3 reads), one extend per record,
            // and the boundary-set PCRs read back after the last extend (3 reads)
            int extendsPlanned = plan.extendRecords().size();
            assertEquals(Map.of(TPM_CC_PCR_READ, 6L, TPM_CC_PCR_EXTEND, (long) extendsPlanned), sent);
            Journal.Contents jc = Journal.read(state.resolve("journal.jsonl"));
            assertEquals(extendsPlanned, jc.entries().size());
            assertTrue(jc.entries().stream().allMatch(e -> e.state() == Journal.State.DONE));
        }
    }

    /**
     * Planned offline from a PCR file (written by tpm2_pcrread, not by us) with no TPM at all, then
     * committed to the TPM the file came from: the TPM ends with the predicted values.
     */
    @Test
    void aPlanFromAPcrSnapshotFileNeedsNoTpmAndCommitsAsPredicted() throws Exception {
        Path state = dir.resolve("state-snapshot");
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            Path pcrs = dir.resolve("pcrs.yaml");
            Files.writeString(pcrs, Tpm2Tools.run(swtpm.tcti(), "tpm2_pcrread", ALL));
            Plan plan = MeasuredBoot.plan(request(state), PcrSnapshot.read(pcrs));
            assertEquals(Map.of(), plan.stats().tpmCommands(), "no TPM command");
            assertEquals("file " + pcrs, plan.pcrSource());
            try (Tpm tpm = swtpm.open()) {
                Commit.commit(plan, tpm, state);
            }
            Map<String, Map<Integer, String>> after = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            for (String b : BANKS) {
                for (int p = 0; p < 24; p++) {
                    assertEquals(after.get(b).get(p), Hex.of(plan.predictedPcrs().values().get(HashAlg.fromName(b)).get(p)),
                            b + " PCR " + p);
                }
            }
        }
    }

    /**
     * The sidecar and the journal of a real plan and commit are written without databind (util.JsonOut's streaming
     * writers: the tail's warm-up and the sidecar build no databind serializer, whatever ran before in this JVM: the
     * mapper's shared cache is emptied first), and their bytes are what databind writes for the same records (the
     * oracle: Json.PRETTY on the sidecar's manifest, side record and CEL-JSON records; Json.MAPPER on each journal line
     * as databind reads it back).
     */
    @Test
    void theSidecarAndTheJournalAreDatabindsBytesWithoutDatabind() throws Exception {
        Path state = dir.resolve("state-writers");
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            try (Tpm tpm = swtpm.open()) {
                Plan plan = MeasuredBoot.plan(request(state), tpm);
                com.fasterxml.jackson.databind.ser.DefaultSerializerProvider serializers =
                        (com.fasterxml.jackson.databind.ser.DefaultSerializerProvider) Json.MAPPER.getSerializerProviderInstance();
                serializers.flushCachedSerializers();
                Sidecar.warmUp(plan.firmwareLog());
                Sidecar s = Sidecar.from(plan, Map.of());
                assertEquals(0, serializers.cachedSerializersCount(), "databind serializers built for the sidecar");
                assertArrayEquals(Json.PRETTY.writeValueAsBytes(s.manifest()), s.manifestJson(), "manifest.json");
                assertArrayEquals(Json.PRETTY.writeValueAsBytes(s.sideRecord()), s.sideRecordJson(), "not-extended.json");
                assertArrayEquals(Json.PRETTY.writeValueAsBytes(CelJson.records(plan.predictedLog())), s.celJson(), "CEL-JSON");
                assertFalse(s.manifest().expectedPcrs().isEmpty(), "a manifest with its expected PCRs");
                Commit.commit(plan, tpm, state);
            }
            List<String> lines = Files.readAllLines(state.resolve("journal.jsonl"));
            assertTrue(lines.size() > 10, "journal lines: " + lines.size());
            for (int i = 0; i < lines.size(); i++) {
                Class<?> type = i == 0 ? Journal.Header.class : Journal.Line.class;
                byte[] raw = lines.get(i).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                assertArrayEquals(raw, Json.MAPPER.writeValueAsBytes(Json.MAPPER.readValue(raw, type)), "journal line " + (i + 1));
            }
        }
    }

    @Test
    void aStalePlanIsRefusedBeforeAnyExtend() throws Exception {
        Path state = dir.resolve("state-stale");
        byte[][] intruder = {new byte[20], new byte[32], new byte[48]};
        for (byte[] d : intruder) d[0] = 0x42;
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            try (Tpm tpm = swtpm.open()) {
                Plan plan = MeasuredBoot.plan(request(state), tpm);
                // someone else extends PCR 12 between the plan and its commit
                Map<HashAlg, byte[]> d = new LinkedHashMap<>();
                for (int i = 0; i < 3; i++) d.put(HashAlg.fromName(BANKS.get(i)), intruder[i]);
                tpm.extend(12, d);
                SortedMap<Integer, Long> c0 = tpm.commandCounts();
                StalePlanException e = assertThrows(StalePlanException.class, () -> Commit.commit(plan, tpm, state));
                assertTrue(e.getMessage().contains("sha256 PCR 12") && e.getMessage().contains("nothing was extended"),
                        e.getMessage());
                assertEquals(Map.of(TPM_CC_PCR_READ, 3L), sent(tpm.commandCounts(), c0), "only the check's reads");
            }
            assertFalse(Files.exists(state.resolve("journal.jsonl")), "no journal: nothing was about to be extended");
            // the TPM holds the intruder's extend and nothing else (JCA computes the expected value)
            Map<String, Map<Integer, String>> after = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            for (int i = 0; i < 3; i++) {
                String b = BANKS.get(i);
                MessageDigest md = MessageDigest.getInstance(HashAlg.fromName(b).jcaName);
                md.update(Hex.parse(before.get(b).get(12)));
                md.update(intruder[i]);
                Map<Integer, String> expect = new TreeMap<>(before.get(b));
                expect.put(12, Hex.of(md.digest()));
                assertEquals(expect, after.get(b), b);
            }
        }
    }

    /** The seams run in their documented order; a denial stops before anything else; a failed commit unloads. */
    @Test
    void decideThenLoadThenCommitAndAFailedCommitUnloads() throws Exception {
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            List<String> calls = new ArrayList<>();
            Loader recording = (plan, sidecar) -> {
                calls.add("load " + sidecar.initrdFiles().keySet());
                return new Loader.Loaded() {
                    @Override
                    public void unload() {
                        calls.add("unload");
                    }

                    @Override
                    public String describe() {
                        return "test";
                    }

                    @Override
                    public boolean loaded() {
                        return true;
                    }
                };
            };
            Path denied = dir.resolve("state-denied");
            try (Tpm tpm = swtpm.open()) {
                RefusedException r = assertThrows(RefusedException.class, () -> MeasuredBoot.run(request(denied), tpm,
                        plan -> Decision.deny("payload not signed by a trusted key"), recording));
                assertTrue(r.getMessage().contains("payload not signed by a trusted key"), r.getMessage());
                assertEquals(List.of(), calls, "nothing loaded after a denial");
                assertEquals(0, tpm.commandCounts().getOrDefault(TPM_CC_PCR_EXTEND, 0L));
            }
            assertFalse(Files.exists(denied.resolve("journal.jsonl")));
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL));

            // a decider that extends PCR 13 itself makes the plan stale: the commit refuses and the load is undone
            Path stale = dir.resolve("state-unload");
            try (Tpm tpm = swtpm.open()) {
                assertThrows(StalePlanException.class, () -> MeasuredBoot.run(request(stale), tpm, plan -> {
                    calls.add("decide");
                    Map<HashAlg, byte[]> d = new LinkedHashMap<>();
                    for (HashAlg a : plan.tpmBanks()) d.put(a, new byte[a.size]);
                    tpm.extend(13, d);
                    return Decision.allow("test");
                }, recording));
            }
            assertEquals(List.of("decide", "load [manifest.json, tpm2-event-log.bin, tpm2-event-log.cel.json]", "unload"), calls);
            assertFalse(Files.exists(stale.resolve("journal.jsonl")));
        }
    }
}
