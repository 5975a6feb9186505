package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.Decision;
import org.kexecmeasured.boot.LoadOnly;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.kexec.FileModeLoader;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Defects an adversarial review found in the {@code --at-shutdown} path, each reproduced on a real swtpm
 * holding the firmware's PCRs (the oracle for "nothing was extended" is tpm2_pcrread).
 */
class PendingHardeningTest {

    static final Path FW = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");

    /** {@code boot --at-shutdown} as the CLI runs it, into {@code pending}. */
    static LoadOnly.Result prepare(Path dir, Swtpm swtpm, RecordingKexec k, Path pending, String tcti) throws Exception {
        Path uki = dir.resolve("uki");
        if (!Files.exists(uki.resolve("demo.efi"))) ChainFixtures.makeUki(uki);
        try (Tpm tpm = swtpm.open()) {
            return LoadOnly.prepareForShutdown(request(dir), tpm, Decider.BUILTIN,
                    new FileModeLoader(k.loader(), KexecFileLoader.Target.REBOOT), pending, "/usr/bin/kexec-measured", Set.of(), tcti);
        }
    }

    /** The request {@code boot --at-shutdown} makes for {@code dir/uki/demo.efi} under the built-in policy. */
    static MeasuredBoot.Request request(Path dir) throws java.io.IOException {
        return new MeasuredBoot.Request(Files.readAllBytes(dir.resolve("uki/demo.efi")), "demo.efi", null, FW,
                dir.resolve("state"), null, BootPolicy.BUILTIN_DEFAULT, "test", 120_000, OsLogs.NONE);
    }

    /**
     * {@code exec} after {@code boot --at-shutdown} would start a kernel whose boot was never committed (the PCRs
     * unchanged: the next system could unseal this one's secrets): refused, exit 2, no reboot syscall; once the
     * pending boot is committed, {@code exec} goes ahead.
     */
    @Test
    void execRefusesAnUncommittedPendingBoot(@TempDir Path dir) throws Exception {
        RecordingKexec k = new RecordingKexec();
        Path pending = dir.resolve("pending");
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, FW)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);
            prepare(dir, swtpm, k, pending, swtpm.tcti());
            assertTrue(Files.readString(pending.resolve(PendingBoot.FILE)).contains(swtpm.tcti()), "the TCTI is saved");
            k.calls.clear();
            ChainFixtures.Cli c = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "exec", "--pending-dir", pending.toString());
            assertEquals(2, c.rc(), c.err());
            assertTrue(c.err().contains("pending") && c.err().contains("systemctl kexec") && c.err().contains("commit-pending"), c.err());
            assertEquals(List.of(), k.calls, "no sync, no reboot");
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL));

            // as the system-shutdown hook runs it: no --tpm, the TPM the preparation read is the one extended
            ChainFixtures.Cli commit = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "commit-pending", pending.toString());
            assertEquals(0, commit.rc(), commit.err());
            assertFalse(before.equals(Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL)), "committed to the saved TCTI");
            k.calls.clear();
            ChainFixtures.Cli after = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "exec", "--pending-dir", pending.toString());
            assertEquals(List.of("sync", "reboot"), k.calls, after.err());
        }
    }

    /**
     * A decision that re-authorizes (files for {@code /.extra/}, as PolicyDecider returns with {@code reauthorize}) signs
     * the PCRs read at preparation, which the OS changes before the commit, and the pending file would drop those files:
     * {@code --at-shutdown} refuses it before anything is loaded or saved.
     */
    @Test
    void atShutdownRefusesADecisionThatReauthorizes(@TempDir Path dir) throws Exception {
        ChainFixtures.makeUki(dir.resolve("uki"));
        RecordingKexec k = new RecordingKexec();
        Path pending = dir.resolve("pending");
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, FW); Tpm tpm = swtpm.open()) {
            MeasuredBoot.Request req = request(dir);
            java.util.TreeMap<String, byte[]> root = new java.util.TreeMap<>();
            root.put("tpm2-pcr-signature.json", "{\"sha256\":[]}".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            Decider reauthorizing = plan -> new Decision(true, List.of("re-authorized"), new java.util.TreeMap<>(), root, null);
            BadInputException e = assertThrows(BadInputException.class, () -> LoadOnly.prepareForShutdown(req, tpm, reauthorizing,
                    new FileModeLoader(k.loader(), KexecFileLoader.Target.REBOOT), pending, "/usr/bin/kexec-measured", Set.of(),
                    swtpm.tcti()));
            assertTrue(e.getMessage().contains("tpm2-pcr-signature.json"), e.getMessage());
            assertEquals(List.of(), k.calls, "nothing loaded");
            assertFalse(Files.exists(pending.resolve(PendingBoot.FILE)), "nothing saved");
        }
    }

    /**
     * What the caller saves beside a pending boot (the policy the commit decides under again) is written only once
     * plan, decision and load have passed: a refused preparation leaves an earlier pending boot's files alone.
     */
    @Test
    void filesBesideThePendingBootAreWrittenOnlyByAPreparationThatPassed(@TempDir Path dir) throws Exception {
        ChainFixtures.makeUki(dir.resolve("uki"));
        RecordingKexec k = new RecordingKexec();
        Path pending = dir.resolve("pending");
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, FW); Tpm tpm = swtpm.open()) {
            MeasuredBoot.Request req = request(dir);
            List<String> saved = new java.util.ArrayList<>();
            Decider refusing = plan -> { throw new org.kexecmeasured.boot.RefusedException(List.of("refused by policy: test")); };
            assertThrows(org.kexecmeasured.boot.RefusedException.class, () -> LoadOnly.prepareForShutdown(req, tpm, refusing,
                    new FileModeLoader(k.loader(), KexecFileLoader.Target.REBOOT), pending, "/usr/bin/kexec-measured", Set.of(),
                    swtpm.tcti(), true, () -> saved.add("policy")));
            assertEquals(List.of(), saved, "a refused preparation saves nothing beside the pending boot");
            assertEquals(List.of(), k.calls, "nothing loaded");

            LoadOnly.prepareForShutdown(req, tpm, Decider.BUILTIN,
                    new FileModeLoader(k.loader(), KexecFileLoader.Target.REBOOT), pending, "/usr/bin/kexec-measured", Set.of(),
                    swtpm.tcti(), true, () -> saved.add(Files.exists(pending.resolve(PendingBoot.FILE)) ? "after" : "before"));
            assertEquals(List.of("before"), saved, "saved once, with the pending boot, after the load");
            assertTrue(k.loaded, "loaded");
        }
    }

    /**
     * A pending file that does not hold what {@code boot --at-shutdown} writes — a PCR out of range, an unknown enum or
     * bank, bad hex, a PCR 0 record to extend before any boundary, the boundary record moved behind the payload's,
     * a disposition the policy's sets do not give, the records or the hand-off missing; well-formed records dropped,
     * swapped or repeated, which only planSha256 finds — is bad input naming the field: exit 2, nothing loaded, no PCR
     * changed (tpm2_pcrread before and after).
     */
    @Test
    void commitPendingRejectsAnInconsistentPendingFile(@TempDir Path dir) throws Exception {
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, FW)) {
            Path good = dir.resolve("pending-good");
            prepare(dir, swtpm, new RecordingKexec(), good, swtpm.tcti());
            byte[] orig = Files.readAllBytes(good.resolve(PendingBoot.FILE));
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);
            int payloadRecord = 7; // after the six boundary records of the built-in policy
            Map<String, java.util.function.Consumer<ObjectNode>> cases = new java.util.LinkedHashMap<>();
            cases.put("records[7].pcr", j -> rec(j, payloadRecord).put("pcr", 99));
            cases.put("records[7].origin", j -> rec(j, payloadRecord).put("origin", "X"));
            cases.put("records[7].disposition: 'X'", j -> rec(j, payloadRecord).put("disposition", "X"));
            cases.put("records[7].disposition: ", j -> rec(j, payloadRecord).put("disposition",
                    rec(j, payloadRecord).get("disposition").asText().equals("EXTEND") ? "SIDE_RECORD" : "EXTEND"));
            cases.put("records[7].digests.sha256", j -> ((ObjectNode) rec(j, payloadRecord).get("digests")).put("sha256", "zz"));
            cases.put("records[7].digests: unknown hash algorithm 'md5'", j -> ((ObjectNode) rec(j, payloadRecord).get("digests")).put("md5", "00"));
            cases.put("records[0]: expected the boundary record", j -> {
                ObjectNode r = rec(j, payloadRecord).deepCopy();
                r.put("pcr", 0);
                r.put("disposition", "EXTEND");
                ((ArrayNode) j.get("records")).insert(0, r);
            });
            cases.put("records[0]: expected the boundary record for PCR", j -> {
                ArrayNode recs = (ArrayNode) j.get("records");
                recs.add(recs.remove(0));
            });
            cases.put("records: missing", j -> j.remove("records"));
            cases.put("no payload record", j -> {
                ArrayNode recs = (ArrayNode) j.get("records");
                while (recs.size() > 6) recs.remove(6);
            });
            cases.put("handOff: missing", j -> j.remove("handOff"));
            cases.put("notes[0]: missing", j -> ((ArrayNode) j.putArray("notes")).addNull()); // review-s4: was an internal error
            cases.put("policy.extendSet: 24 is not a PCR index", j -> ((ArrayNode) j.get("policy").get("extendSet")).add(24));
            // well-formed records in another order, or one fewer or more: each record alone is one the planner
            // could make, only planSha256 (the plan as saved) says they are not the ones it made
            int n = ((ArrayNode) Json.MAPPER.readTree(orig).get("records")).size();
            assertTrue(n >= payloadRecord + 2, "the plan has payload records before and after records[7]: " + n);
            Map<String, java.util.function.Consumer<ObjectNode>> planCases = new java.util.LinkedHashMap<>();
            planCases.put("a payload record dropped from the middle", j -> ((ArrayNode) j.get("records")).remove(payloadRecord));
            planCases.put("two payload records swapped", j -> {
                ArrayNode recs = (ArrayNode) j.get("records");
                recs.insert(payloadRecord + 1, recs.remove(payloadRecord));
            });
            planCases.put("a payload record inserted twice", j -> ((ArrayNode) j.get("records")).insert(payloadRecord, rec(j, payloadRecord).deepCopy()));
            planCases.put("the last record dropped", j -> ((ArrayNode) j.get("records")).remove(n - 1));
            planCases.put("planSha256 missing", j -> j.remove("planSha256"));
            // a record carrying the next system's uncommitted hand-over tag (tcg2/uncommitted-handover.md), with
            // planSha256 recomputed by tcg2/pending.md's formula: the digest finds no fault, the record check must
            // (review-s4: the planner refuses the tag from the chain, the pending file's check did not)
            cases.put("records[7]: an event with the uncommitted hand-over tag", j -> {
                ObjectNode r = rec(j, payloadRecord);
                byte[] data = "kexec-measured-uncommitted=1\nmode=pending\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                java.nio.ByteBuffer tagged = java.nio.ByteBuffer.allocate(8 + data.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                tagged.putInt(0x4B584D55).putInt(data.length).put(data); // "UMXK"
                r.put("eventType", 6); // EV_EVENT_TAG
                r.put("eventData", java.util.Base64.getEncoder().encodeToString(tagged.array()));
                j.put("planSha256", planSha256(j));
            });
            for (Map.Entry<String, java.util.function.Consumer<ObjectNode>> cse : cases.entrySet()) {
                refused(dir, swtpm, good, orig, cse.getKey(), cse.getKey(), cse.getValue());
            }
            for (Map.Entry<String, java.util.function.Consumer<ObjectNode>> cse : planCases.entrySet()) {
                refused(dir, swtpm, good, orig, cse.getKey(), "planSha256: ", cse.getValue());
            }
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "nothing extended");
            // the untouched file still commits (the checks accept what boot --at-shutdown writes)
            ChainFixtures.Cli ok = ChainFixtures.cli(Services.DEFAULT.withKexec(new RecordingKexec()::loader), "commit-pending",
                    good.toString());
            assertEquals(0, ok.rc(), ok.err());
        }
    }

    /** commit-pending of the good pending directory with pending.json mutated: exit 2 naming {@code expected}, nothing loaded. */
    private static void refused(Path dir, Swtpm swtpm, Path good, byte[] orig, String label, String expected,
                                java.util.function.Consumer<ObjectNode> mutation) throws Exception {
        Path p = Files.createDirectories(dir.resolve("p" + label.hashCode()));
        for (String f : List.of("kernel.bin", "initrd.bin", "tool")) Files.copy(good.resolve(f), p.resolve(f));
        ObjectNode j = (ObjectNode) Json.MAPPER.readTree(orig);
        j.put("stateDir", dir.resolve("state-" + label.hashCode()).toString());
        mutation.accept(j);
        Files.write(p.resolve(PendingBoot.FILE), Json.MAPPER.writeValueAsBytes(j));
        RecordingKexec k = new RecordingKexec();
        ChainFixtures.Cli c = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "commit-pending", p.toString(),
                "--tpm", swtpm.tcti());
        assertEquals(2, c.rc(), label + ": " + c.out() + c.err());
        assertTrue(c.err().contains(expected), label + ": " + c.err());
        assertEquals(1, c.err().strip().lines().count(), c.err());
        assertEquals(List.of(), k.calls, label + ": nothing loaded");
    }

    /** planSha256 as tcg2/pending.md defines it, computed here from the file's own fields. */
    static String planSha256(ObjectNode j) {
        StringBuilder sb = new StringBuilder("kexec-measured-plan/1\n").append(j.get("boundary").get("data").asText());
        for (com.fasterxml.jackson.databind.JsonNode r : j.get("records")) {
            sb.append(r.get("pcr").asInt()).append(' ').append(r.get("eventType").asLong()).append(' ')
                    .append(r.get("origin").asText()).append(' ').append(r.get("disposition").asText()).append(' ')
                    .append(r.get("eventData").asText());
            java.util.TreeMap<String, String> d = new java.util.TreeMap<>();
            r.get("digests").fields().forEachRemaining(e -> d.put(e.getKey(), e.getValue().asText()));
            d.forEach((bank, hex) -> sb.append(' ').append(bank).append(':').append(hex));
            sb.append('\n');
        }
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static ObjectNode rec(ObjectNode pending, int i) {
        return (ObjectNode) pending.get("records").get(i);
    }
}
