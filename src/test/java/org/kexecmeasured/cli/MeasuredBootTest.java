package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogWriter;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.boot.BoundaryEvent;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Acceptance of the measured chain against real parts: the test UKI (systemd-stub 252 + Debian
 * kernel) and systemd-boot run in the emulator, extending a swtpm that was first brought to the state
 * of a real firmware log; tpm2_pcrread, tpm2_eventlog, systemd-measure and pesign are the oracles.
 */
class MeasuredBootTest {

    @TempDir
    static Path dir;
    static Path uki;
    static final ObjectMapper JSON = new ObjectMapper();
    static final int BOUNDARY_TAG = BoundaryEvent.TAG_ID;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
    }

    static int tagId(Event e) {
        return e.data().length >= 8 ? ByteBuffer.wrap(e.data()).order(ByteOrder.LITTLE_ENDIAN).getInt(0) : -1;
    }

    static boolean isBoundary(Event e) {
        return e.eventType() == 6 && tagId(e) == BOUNDARY_TAG;
    }

    /** Records the run added (after the firmware's), for one PCR. */
    static List<Event> added(EventLog log, int firmwareRecords, int pcr) {
        List<Event> l = new ArrayList<>();
        for (Event e : log.events().subList(firmwareRecords, log.events().size())) if (e.pcrIndex() == pcr) l.add(e);
        return l;
    }

    /** The boundary record comes first in every boundary PCR, exactly once, and nothing of the run precedes it. */
    static void assertBoundaryFirst(EventLog log, int firmwareRecords) {
        for (int pcr : List.of(4, 5, 9, 11, 12, 13)) {
            List<Event> l = added(log, firmwareRecords, pcr);
            assertTrue(!l.isEmpty() && isBoundary(l.get(0)), "PCR " + pcr + " starts with the boundary: " + l);
            assertEquals(1, l.stream().filter(MeasuredBootTest::isBoundary).count(), "one boundary in PCR " + pcr);
        }
        for (Event e : log.events().subList(firmwareRecords, log.events().size())) {
            assertTrue(List.of(4L, 5L, 9L, 11L, 12L, 13L).contains(e.pcrIndex()), "extend outside the set: " + e);
        }
    }

    /** tpm2_pcrread (all PCRs, every bank) equals our replay of the written log and tpm2_eventlog's replay. */
    static void assertTpmEqualsReplays(Swtpm swtpm, Path logFile, EventLog log, List<String> banks) {
        assertTpmEqualsReplays(swtpm, logFile, log, banks, List.of(0, 4, 5, 7, 9, 11, 12, 13));
    }

    /**
     * The sha256 log {@code logFile} is what the swtpm holds: {@link #assertTpmEqualsReplays} and {@code eventlog
     * verify --tpm} says ok for all 24 PCRs. {@code mustHave} as there; {@code what} names the run in failures.
     */
    static void assertLogIsTheTpm(Swtpm swtpm, Path logFile, List<Integer> mustHave, String what) throws IOException {
        assertTpmEqualsReplays(swtpm, logFile, EventLog.parse(Files.readAllBytes(logFile)), List.of("sha256"), mustHave);
        ChainFixtures.Cli v = ChainFixtures.cli(0, "eventlog", "verify", logFile.toString(), "--tpm", swtpm.tcti());
        assertTrue(v.out().contains("ok: 24 PCR value(s)"), what + ": " + v.out());
    }

    /** The same for a log of a whole boot (tpm2_eventlog replays the boot's PCRs too). */
    static void assertLogIsTheTpm(Swtpm swtpm, Path logFile, String what) throws IOException {
        assertLogIsTheTpm(swtpm, logFile, List.of(0, 4, 5, 7, 9, 11, 12, 13), what);
    }

    /** As above; {@code mustHave}: the PCRs tpm2_eventlog must replay (a firmware log alone has no PCR 9–13). */
    static void assertTpmEqualsReplays(Swtpm swtpm, Path logFile, EventLog log, List<String> banks, List<Integer> mustHave) {
        String sel = String.join("+", banks.stream().map(b -> b + ":all").toList());
        Map<String, Map<Integer, String>> tpm = Tpm2Tools.pcrread(swtpm.tcti(), sel);
        assertEquals(banks, new ArrayList<>(tpm.keySet()));
        Map<HashAlg, byte[][]> ours = Replay.replay(log);
        for (String b : banks) {
            HashAlg a = HashAlg.fromName(b);
            assertEquals(24, tpm.get(b).size());
            for (int p = 0; p < 24; p++) {
                if (p >= 17 && p <= 22) {
                    // DRTM PCRs rest at FF…FF and no log record (nor this run) touches them
                    assertEquals("ff".repeat(a.size), tpm.get(b).get(p), b + " PCR " + p);
                    continue;
                }
                assertEquals(tpm.get(b).get(p), Hex.of(ours.get(a)[p]), b + " PCR " + p + ": tpm2_pcrread vs our replay");
            }
        }
        Fixtures.Run r = Fixtures.tpm2Eventlog(logFile);
        assertEquals(0, r.exit(), r.err());
        String section = Fixtures.pcrsSection(r.out());
        assertNotNull(section, "tpm2_eventlog printed no pcrs");
        PcrSet theirs = PcrSet.parse(section, "tpm2_eventlog");
        for (String b : banks) {
            Map<Integer, byte[]> m = theirs.values().get(HashAlg.fromName(b));
            assertNotNull(m, "tpm2_eventlog replayed no " + b + " bank");
            for (int p : mustHave) {
                assertNotNull(m.get(p), "tpm2_eventlog has no " + b + " PCR " + p);
            }
            for (Map.Entry<Integer, byte[]> e : m.entrySet()) {
                assertEquals(tpm.get(b).get(e.getKey()), Hex.of(e.getValue()), b + " PCR " + e.getKey() + ": tpm2_pcrread vs tpm2_eventlog");
            }
        }
    }

    @Test
    void ukiOnAThreeBankFirmwareStateReplaysToTheTpmAndMatchesSystemdMeasure() throws Exception {
        Path fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        EventLog fw = EventLog.parse(Fixtures.read(fwFile));
        List<String> banks = List.of("sha1", "sha256", "sha384");
        try (Swtpm swtpm = ChainFixtures.firmwareState(banks, fw)) {
            Path state = dir.resolve("state-gce");
            ChainFixtures.Cli c = ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", fwFile.toString(), "--state-dir", state.toString(), "--no-load", "--json");
            JsonNode j = JSON.readTree(c.out());
            assertEquals(0, j.path("divergent").size(), c.out());
            Path logFile = state.resolve("eventlog.bin");
            EventLog log = EventLog.parse(Files.readAllBytes(logFile));
            int fwCount = fw.events().size();

            // the firmware's records are kept byte for byte
            for (int i = 0; i < fwCount; i++) {
                assertArrayEquals(EventLogWriter.record(fw.events().get(i)), EventLogWriter.record(log.events().get(i)), "record " + i);
            }
            assertTpmEqualsReplays(swtpm, logFile, log, banks);
            assertBoundaryFirst(log, fwCount);

            // PCR 11: the stub's events alone, replayed from zero = systemd-measure calculate --phase=:
            String measured = ChainFixtures.run(ChainFixtures.require(ChainFixtures.SYSTEMD_MEASURE, "systemd").toString(),
                    "calculate", "--linux=" + uki.resolve("vmlinuz"), "--osrel=" + uki.resolve("os-release"),
                    "--cmdline=" + uki.resolve("cmdline.txt"), "--initrd=" + uki.resolve("initrd.cpio"),
                    "--bank=sha1", "--bank=sha256", "--phase=:");
            List<Event> pcr11 = added(log, fwCount, 11);
            assertEquals(8, pcr11.size() - 1, "4 sections × 2 events after the boundary");
            for (HashAlg a : List.of(HashAlg.SHA1, HashAlg.SHA256)) {
                byte[] v = new byte[a.size];
                for (Event e : pcr11.subList(1, pcr11.size())) v = a.extend(v, e.digest(a));
                String line = "11:" + a.tpmName + "=" + Hex.of(v);
                assertTrue(measured.lines().anyMatch(line::equals), line + " not in systemd-measure output:\n" + measured);
            }

            // PCR 9: the Linux stub's tagged events, LoadOptions then initrd, exact sizes and digests
            List<Event> pcr9 = added(log, fwCount, 9);
            assertEquals(3, pcr9.size(), pcr9.toString());
            String cmdline = Files.readString(uki.resolve("cmdline.txt"));
            assertEquals(0x8F3B22ED, tagId(pcr9.get(1)));
            assertEquals(34, pcr9.get(1).data().length);
            assertEquals(Hex.of(HashAlg.SHA256.digest((cmdline + "\0").getBytes(StandardCharsets.UTF_16LE))),
                    Hex.of(pcr9.get(1).digest(HashAlg.SHA256)));
            assertEquals(0x8F3B22EC, tagId(pcr9.get(2)));
            assertEquals(21, pcr9.get(2).data().length);
            assertEquals(Hex.of(HashAlg.SHA256.digest(Files.readAllBytes(uki.resolve("initrd.cpio")))),
                    Hex.of(pcr9.get(2).digest(HashAlg.SHA256)));

            // PCR 4: "Calling EFI Application" once, then the UKI and the kernel the stub loads (Authenticode = pesign)
            List<Event> pcr4 = added(log, fwCount, 4);
            assertEquals(4, pcr4.size(), pcr4.toString());
            assertEquals("Calling EFI Application from Boot Option", new String(pcr4.get(1).data(), StandardCharsets.US_ASCII));
            assertEquals(ChainFixtures.pesignHash(uki.resolve("demo.efi"), "sha256"), Hex.of(pcr4.get(2).digest(HashAlg.SHA256)));
            assertEquals(ChainFixtures.pesignHash(uki.resolve("vmlinuz"), "sha256"), Hex.of(pcr4.get(3).digest(HashAlg.SHA256)));
            assertEquals(ChainFixtures.pesignHash(uki.resolve("vmlinuz"), "sha1"), Hex.of(pcr4.get(3).digest(HashAlg.SHA1)));

            // TPM commands, by command code. The plan: 1 GetCapability (banks), one PCR read batch (24 PCRs × 3
            // banks / 8 digests per response = 9), 1 GetRandom (the boundary nonce). The commit: the boundary-set
            // PCRs again (6 × 3 / 8 → 3 reads, the stale-plan check), one PCR_Extend per added record, and the
            // boundary-set PCRs once more (3 reads: the read-back compared with the prediction).
            JsonNode s = j.path("stats");
            int added = log.events().size() - fwCount;
            assertEquals(Map.of("TPM2_GetCapability", 1, "TPM2_PCR_Read", 9, "TPM2_GetRandom", 1),
                    JSON.convertValue(s.path("planTpmCommandsByName"), Map.class), s.toString());
            assertEquals(Map.of("TPM2_GetCapability", 1, "TPM2_PCR_Read", 15, "TPM2_GetRandom", 1, "TPM2_PCR_Extend", added),
                    JSON.convertValue(s.path("tpmCommandsByName"), Map.class), s.toString());
            assertEquals(added, s.path("extendCommands").asInt());
            assertEquals(added + 15 + 2, s.path("tpmCommands").asInt(), s.toString());
            // the run's steps, timed in their order (the guest bench splits the tool's time with them): together
            // within the run's wall time, and the process's time so far covers the JVM start and the run
            List<String> steps = new java.util.ArrayList<>();
            long stepSum = 0;
            for (var e : (Iterable<Map.Entry<String, JsonNode>>) () -> s.path("stepMicros").fields()) {
                steps.add(e.getKey());
                assertTrue(e.getValue().asLong(-1) >= 0, s.toString());
                stepSum += e.getValue().asLong();
            }
            assertEquals(List.of("plan", "decide", "sidecar", "checkOutputs", "load", "commit", "writeOutputs", "archive"),
                    steps, s.toString());
            assertTrue(stepSum <= s.path("wallMicros").asLong(), s.toString());
            assertTrue(s.path("sinceProcessStartMicros").asLong() >= s.path("wallMicros").asLong(), s.toString());

            // outputs: the sidecar carries the same log; the manifest's expected values are the TPM's
            Path sidecar = state.resolve("initrd-extra/.extra/kexec-measured");
            assertArrayEquals(Files.readAllBytes(logFile), Files.readAllBytes(sidecar.resolve("tpm2-event-log.bin")));
            JsonNode manifest = JSON.readTree(sidecar.resolve("manifest.json").toFile());
            Map<String, Map<Integer, String>> tpm = Tpm2Tools.pcrread(swtpm.tcti(), "sha256:4,5,9,11,12,13");
            for (int p : List.of(4, 5, 9, 11, 12, 13)) {
                assertEquals(tpm.get("sha256").get(p), manifest.path("expectedPcrs").path("sha256").path(Integer.toString(p)).asText());
            }
            JsonNode cel = JSON.readTree(state.resolve("eventlog.cel.json").toFile());
            assertEquals(log.events().size(), cel.size());
            assertTrue(Files.isRegularFile(state.resolve("not-extended.json")));

            // eventlog verify against the live TPM, with the journal (archived with the finished boot's
            // generation): every journaled extend reached it
            Path journal = Path.of(j.path("outputs").path("journal").asText());
            assertTrue(journal.startsWith(state.resolve("generations")), journal.toString());
            assertFalse(Files.exists(state.resolve("journal.jsonl")), "a finished boot leaves no journal in STATE");
            ChainFixtures.Cli v = ChainFixtures.cli(0, "eventlog", "verify", logFile.toString(), "--tpm", swtpm.tcti(),
                    "--journal", journal.toString());
            assertTrue(v.out().contains(added + " of " + added + " journaled extend(s) reached the TPM"), v.out());
        }
    }

    @Test
    void systemdBootToUkiChain() throws Exception {
        ChainFixtures.require(ChainFixtures.SD_BOOT, "systemd-boot-efi");
        Path esp = dir.resolve("esp");
        Files.createDirectories(esp.resolve("EFI/BOOT"));
        Files.createDirectories(esp.resolve("EFI/Linux"));
        Files.createDirectories(esp.resolve("loader"));
        Files.copy(ChainFixtures.SD_BOOT, esp.resolve("EFI/BOOT/BOOTX64.EFI"));
        Files.copy(uki.resolve("demo.efi"), esp.resolve("EFI/Linux/debian-uki.efi"));
        Files.writeString(esp.resolve("loader/loader.conf"), "timeout 0\ndefault debian-uki.efi\n");
        Path fwFile = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
        EventLog fw = EventLog.parse(Fixtures.read(fwFile));
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fw)) {
            Path state = dir.resolve("state-sdboot");
            Path out = dir.resolve("sdboot-eventlog.bin");
            ChainFixtures.cli(0, "boot", esp.resolve("EFI/BOOT/BOOTX64.EFI").toString(), "--esp", esp.toString(),
                    "--tpm", swtpm.tcti(), "--firmware-log", fwFile.toString(), "--state-dir", state.toString(),
                    "--eventlog-out", out.toString(), "--no-load");
            EventLog log = EventLog.parse(Files.readAllBytes(out));
            int fwCount = fw.events().size();
            assertTpmEqualsReplays(swtpm, out, log, List.of("sha256"));
            assertBoundaryFirst(log, fwCount);

            // PCR 4: boundary, the boot-option action, then one image event per LoadImage with pesign's digest
            List<Event> pcr4 = added(log, fwCount, 4);
            assertEquals(5, pcr4.size(), pcr4.toString());
            assertEquals(0x80000007, pcr4.get(1).eventType());
            List<Path> images = List.of(ChainFixtures.SD_BOOT, uki.resolve("demo.efi"), uki.resolve("vmlinuz"));
            for (int i = 0; i < 3; i++) {
                Event e = pcr4.get(2 + i);
                assertEquals(0x80000003, e.eventType());
                assertEquals(ChainFixtures.pesignHash(images.get(i), "sha256"), Hex.of(e.digest(HashAlg.SHA256)), images.get(i).toString());
            }
            // PCR 12: sd-boot's measurement of the command line it passes to the UKI
            String cmdline = Files.readString(uki.resolve("cmdline.txt")).strip();
            List<Event> pcr12 = added(log, fwCount, 12);
            assertTrue(pcr12.stream().skip(1).anyMatch(e -> e.eventType() == 0xD
                    && new String(e.data(), StandardCharsets.UTF_16LE).contains(cmdline)), pcr12.toString());
            assertTrue(Arrays.equals(Files.readAllBytes(out),
                    Files.readAllBytes(state.resolve("initrd-extra/.extra/kexec-measured/tpm2-event-log.bin"))));
        }
    }

    @Test
    void withoutNoLoadAnUnreachableTpmStopsTheBootBeforeAnyLoad() {
        Path state = dir.resolve("state-refuse");
        org.kexecmeasured.kexec.testing.RecordingKexec k = new org.kexecmeasured.kexec.testing.RecordingKexec();
        ChainFixtures.Cli c = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "boot", uki.resolve("demo.efi").toString(),
                "--tpm", "swtpm:host=127.0.0.1,port=1", "--state-dir", state.toString());
        assertEquals(Main.EXIT_BAD_INPUT, c.rc(), c.err());
        assertTrue(c.err().contains("nothing was extended"), c.err());
        assertEquals(java.util.List.of(), k.calls, "no kexec system call");
        assertTrue(!Files.exists(state), "nothing written");
    }
}
