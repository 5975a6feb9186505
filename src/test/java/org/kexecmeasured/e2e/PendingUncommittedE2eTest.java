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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pending hand-over that is never committed, on a real (virtual) machine (tests/e2e "pending",
 * tcg2/uncommitted-handover.md): pd1 (booted by OVMF) seals two secrets, runs {@code boot pd2.efi --at-shutdown} —
 * which loads and extends nothing — and then starts the kernel as {@code kexec -e} does (sync,
 * {@code reboot(LINUX_REBOOT_CMD_KEXEC)}), so the system-shutdown hook never commits. pd2 has systemd as init and the
 * package installed; its {@code kexec-measured-uncommitted.service} marks the hand-over before sysinit.target.
 *
 * <p>Oracles: pd2's TPM read by the kernel (sysfs) and by {@code tpm2_pcrread}; the firmware's own log (the one
 * securityfs still serves after kexec_file_load) replayed by {@code tpm2_eventlog}; the uncommitted event's data
 * built here from the document's format and the manifest's planned boundary, its digests computed here; systemd's
 * phase words hashed here; {@code tpm2_unseal} for the secrets.
 */
@Tag("e2e")
class PendingUncommittedE2eTest {
    /** taggedEventID of the uncommitted hand-over event (tcg2/uncommitted-handover.md): "UMXK" little-endian. */
    private static final int UNCOMMITTED_TAG = 0x4B584D55;
    private static final int EV_EVENT_TAG = 6;

    static Path run;

    @BeforeAll
    static void boot() {
        run = E2eRun.run("pending");
    }

    @Test
    void pd1PreparedThePendingBootAndExtendedNothing() {
        Path s1 = E2eRun.stage(run, "pd1");
        assertEquals("0", E2eRun.text(s1.resolve("hook-mount.rc")).strip(), "the package's hook in place for --at-shutdown");
        assertEquals("0", E2eRun.text(s1.resolve("boot.rc")).strip(), () -> E2eRun.text(s1.resolve("boot.err")));
        assertEquals("1", E2eRun.text(s1.resolve("kexec_loaded-after")).strip(), "the kernel is loaded");
        // PCR 10: IMA may measure meanwhile
        E2eRun.assertSamePcrsButIma(E2eRun.pcrs(s1.resolve("pcrs.txt")), E2eRun.pcrs(s1.resolve("pcrs-after-load.txt")),
                "preparing the pending boot");
    }

    /** pd2 started with the pending sidecar: the manifest says so, and the commit never happened. */
    @Test
    void pd2StartedWithTheUncommittedSidecarAndTheUnitMarkedIt() throws IOException {
        Path s2 = E2eRun.stage(run, "pd2");
        assertEquals("pd2", E2eRun.text(s2.resolve("uki")).strip());
        JsonNode manifest = manifest(s2);
        assertEquals("kexec-measured-uncommitted/1", manifest.path("format").asText(), manifest.toString());
        assertEquals("pending", manifest.path("mode").asText());
        assertFalse(manifest.path("committed").asBoolean(true));
        String unit = E2eRun.text(s2.resolve("unit.txt"));
        assertTrue(unit.contains("ActiveState=active") && unit.contains("Result=success") && unit.contains("ExecMainStatus=0"),
                "kexec-measured-uncommitted.service ran and succeeded:\n" + unit + "\njournal:\n" + E2eRun.text(s2.resolve("unit-journal.txt")));
        String journal = E2eRun.text(s2.resolve("unit-journal.txt"));
        String nonce = line(manifest.path("plannedBoundary").asText(), "nonce");
        assertTrue(journal.contains("uncommitted hand-over of nonce " + nonce + " extended into PCRs [4, 5, 9, 11, 12, 13]"), journal);

        JsonNode note = Json.MAPPER.readTree(s2.resolve("sidecar/uncommitted-handover.json").toFile());
        assertEquals("kexec-measured-uncommitted-handover/1", note.path("format").asText());
        assertEquals(List.of(4, 5, 9, 11, 12, 13), ints(note.path("pcrs")));
        assertEquals(nonce, note.path("nonce").asText());
        assertTrue(note.path("agreedBefore").asBoolean(false), "the carried log replayed to the TPM before the mark: " + note);
        assertEquals(List.of(), ints(note.path("extendedBefore")));
        assertEquals(Hex.of(HashAlg.SHA256.digest(E2eRun.bytes(s2.resolve("sidecar/tpm2-event-log.bin")))),
                note.path("sha256").asText(), "the note's digest is the marked log's");
    }

    /**
     * The TPM against the firmware's log (tpm2_eventlog over what securityfs serves in pd2): outside the boundary set
     * it is exactly that log's replay (nothing was extended), and each boundary PCR holds that replay extended with
     * the uncommitted event only — no boundary event, no payload record reached the TPM. PCR 11 then carries systemd's
     * "sysinit" and "ready" phases (systemd-pcrphase, after sysinit.target, so after the mark); PCR 10 is IMA's.
     */
    @Test
    void pd2sPcrsAreTheFirmwareLogsPlusTheMarkOnlyTpm2EventlogAndTpm2Pcrread() {
        Path s1 = E2eRun.stage(run, "pd1");
        Path s2 = E2eRun.stage(run, "pd2");
        JsonNode manifest = manifest(s2);
        String boundary = manifest.path("plannedBoundary").asText();
        TreeSet<Integer> set = new TreeSet<>();
        for (String p : line(boundary, "pcrs").split(",")) set.add(Integer.parseInt(p));
        assertEquals(new TreeSet<>(List.of(4, 5, 9, 11, 12, 13)), set, "the built-in policy's boundary set");
        byte[] data = markData(boundary);
        Map<HashAlg, byte[][]> firmware = Tpm2EventlogOracle.replay(s2.resolve("securityfs-log.bin"));
        Map<HashAlg, byte[][]> sysfs = E2eRun.pcrs(s2.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> pcrread = Tpm2EventlogOracle.pcrread(s2.resolve("tpm2_pcrread.txt"));
        Map<HashAlg, byte[][]> pd1 = E2eRun.pcrs(s1.resolve("pcrs-after-load.txt"));
        List<String> phases = phases(s2);
        assertEquals(sysfs.keySet(), pcrread.keySet());
        for (HashAlg a : sysfs.keySet()) {
            for (int i = 0; i < 16; i++) {
                assertEquals(Hex.of(sysfs.get(a)[i]), Hex.of(pcrread.get(a)[i]), a + " PCR " + i + ": sysfs and tpm2_pcrread");
                if (i == 10) continue; // IMA: checked against the marked log below
                byte[] want = set.contains(i) ? a.extend(firmware.get(a)[i], a.digest(data)) : firmware.get(a)[i];
                if (i == 11) want = withPhases(want, phases, a);
                assertEquals(Hex.of(want), Hex.of(sysfs.get(a)[i]), a + " PCR " + i + " = the firmware log's replay"
                        + (set.contains(i) ? " + the uncommitted event" : "") + (i == 11 ? " + systemd's phases " + phases : ""));
                if (!set.contains(i) && i != 11) {
                    assertArrayEquals(pd1.get(a)[i], sysfs.get(a)[i], a + " PCR " + i + ": pd1's value, unchanged");
                }
            }
        }
    }

    /**
     * The marked log (what /run/kexec-measured holds after the unit): the firmware's records as securityfs has them,
     * pd1's OS records (PCR 10/11/15 only), then one uncommitted hand-over record per boundary PCR, ascending, and no
     * boundary record; it replays (ours and tpm2_eventlog) to pd2's PCRs.
     */
    @Test
    void theMarkedLogEndsWithTheMarkAndReplaysToPd2sTpm() {
        Path s2 = E2eRun.stage(run, "pd2");
        Path logFile = s2.resolve("sidecar/tpm2-event-log.bin");
        EventLog marked = E2eRun.log(logFile);
        EventLog firmware = E2eRun.log(s2.resolve("securityfs-log.bin"));
        List<Event> all = marked.events();
        List<Event> fw = firmware.events();
        assertTrue(all.size() >= fw.size() + 6, all.size() + " records");
        for (int i = 0; i < fw.size(); i++) {
            assertEquals(fw.get(i).pcrIndex(), all.get(i).pcrIndex(), "record " + i);
            assertEquals(fw.get(i).eventType(), all.get(i).eventType(), "record " + i);
            assertArrayEquals(fw.get(i).data(), all.get(i).data(), "record " + i);
        }
        for (Event e : all.subList(fw.size(), all.size() - 6)) {
            assertTrue(List.of(10, 11, 15).contains((int) e.pcrIndex()), "between the firmware's and the mark: OS records only: " + e);
        }
        for (Event e : all) assertFalse(MainScenarioE2eTest.isBoundary(e), "no boundary record: " + e);
        byte[] data = markData(manifest(s2).path("plannedBoundary").asText());
        byte[] tagged = ByteBuffer.allocate(8 + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(UNCOMMITTED_TAG).putInt(data.length).put(data).array();
        List<Event> mark = all.subList(all.size() - 6, all.size());
        List<Integer> pcrs = new ArrayList<>();
        for (Event e : mark) {
            pcrs.add((int) e.pcrIndex());
            assertEquals(EV_EVENT_TAG, e.eventType(), e.toString());
            assertArrayEquals(tagged, e.data(), "TCG_PCClientTaggedEvent with the document's data");
            for (HashAlg a : marked.banks()) assertEquals(Hex.of(a.digest(data)), Hex.of(e.digest(a)), a + " digest = H(data)");
        }
        assertEquals(List.of(4, 5, 9, 11, 12, 13), pcrs);

        Map<HashAlg, byte[][]> sysfs = E2eRun.pcrs(s2.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> ours = Replay.replay(marked);
        Map<HashAlg, byte[][]> theirs = Tpm2EventlogOracle.replay(logFile);
        List<String> phases = phases(s2);
        for (HashAlg a : sysfs.keySet()) {
            for (int i = 0; i < 16; i++) {
                if (i == 10) {
                    assertArrayEquals(sysfs.get(a)[10], E2eRun.withIma(ours.get(a)[10], s2.resolve("ima.bin"), a),
                            a + " PCR 10 = the marked log + pd2's IMA list");
                    continue;
                }
                byte[] o = i == 11 ? withPhases(ours.get(a)[11], phases, a) : ours.get(a)[i];
                byte[] t = i == 11 ? withPhases(theirs.get(a)[11], phases, a) : theirs.get(a)[i];
                assertEquals(Hex.of(sysfs.get(a)[i]), Hex.of(o), a + " PCR " + i + " (our replay)");
                assertEquals(Hex.of(sysfs.get(a)[i]), Hex.of(t), a + " PCR " + i + " (tpm2_eventlog)");
            }
        }
    }

    /** {@code eventlog verify} with no FILE in pd2: the continued log, said to be an uncommitted boot, marked. */
    @Test
    void pd2sVerifyReadsTheContinuedLogAndSaysTheBootWasNeverCommitted() {
        Path s2 = E2eRun.stage(run, "pd2");
        String v = E2eRun.text(s2.resolve("verify.txt"));
        assertTrue(v.contains("reading the continued log /run/kexec-measured/tpm2-event-log.bin"), v);
        assertTrue(v.contains("prepared with 'boot --at-shutdown' and never committed"), v);
        assertTrue(v.contains("the log ends with the uncommitted hand-over event in every boundary PCR"), v);
        // replayed against the TPM: the only PCRs the log cannot explain are IMA's (pd2's boot_aggregate) and
        // systemd 252's unlogged phases in PCR 11
        int mismatches = 0;
        for (String l : v.split("\n")) {
            if (l.startsWith("MISMATCH") || l.startsWith("UNVERIFIABLE")) {
                mismatches++;
                assertTrue(l.contains("PCR 10:") || l.contains("PCR 11:"), l);
            }
        }
        String rc = E2eRun.text(s2.resolve("verify.rc")).strip();
        assertEquals(mismatches == 0 ? "0" : "1", rc, v);
        if (phases(s2).isEmpty()) return;
        assertTrue(v.contains("PCR 11:"), "systemd's phases are in the TPM, not in the log: verify says so\n" + v);
    }

    /** A secret sealed to pd1's PCR 4 (a boundary PCR) no longer unseals; the control sealed to PCR 0 (outside) does. */
    @Test
    void aSecretSealedToPd1sBoundaryPcrIsUnreachableAfterTheMark() {
        Path s1 = E2eRun.stage(run, "pd1");
        Path s2 = E2eRun.stage(run, "pd2");
        assertEquals("0\n0", E2eRun.text(s1.resolve("seal.rc")).strip(), "pd1 sealed both secrets");
        assertEquals("0", E2eRun.text(s2.resolve("unseal-pcr0.rc")).strip(), () -> E2eRun.text(s2.resolve("unseal-pcr0.err")));
        assertEquals("secret-pcr0", E2eRun.text(s2.resolve("unseal-pcr0.out")).strip(), "the control: PCR 0 is pd1's");
        assertNotEquals("0", E2eRun.text(s2.resolve("unseal-pcr4.rc")).strip(), "sealed to pd1's PCR 4: "
                + E2eRun.text(s2.resolve("unseal-pcr4.out")));
        assertFalse(E2eRun.text(s2.resolve("unseal-pcr4.out")).contains("secret-pcr4"));
    }

    /** taggedEventData as tcg2/uncommitted-handover.md specifies it, from the planned boundary's fields. */
    static byte[] markData(String boundary) {
        return ("kexec-measured-uncommitted=1\nmode=pending\nnonce=" + line(boundary, "nonce") + "\npayload="
                + line(boundary, "payload") + "\npcrs=" + line(boundary, "pcrs") + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** systemd-pcrphase's words pd2 measured into PCR 11 (both units ran, in this order, or neither did). */
    private static List<String> phases(Path s2) {
        String p = E2eRun.text(s2.resolve("pcrphase.txt"));
        boolean sysinit = p.contains("systemd-pcrphase-sysinit.service active");
        boolean ready = p.contains("systemd-pcrphase.service active");
        assertEquals(sysinit, ready, p);
        return sysinit ? List.of("sysinit", "ready") : List.of();
    }

    private static byte[] withPhases(byte[] start, List<String> phases, HashAlg a) {
        byte[] v = start;
        for (String w : phases) v = a.extend(v, a.digest(w.getBytes(StandardCharsets.US_ASCII)));
        return v;
    }

    private static JsonNode manifest(Path stage) {
        try {
            return Json.MAPPER.readTree(E2eRun.bytes(stage.resolve("sidecar/manifest.json")));
        } catch (IOException e) {
            throw new AssertionError(stage + "/sidecar/manifest.json: " + e.getMessage(), e);
        }
    }

    private static List<Integer> ints(JsonNode a) {
        List<Integer> l = new ArrayList<>();
        a.forEach(n -> l.add(n.asInt()));
        return l;
    }

    private static String line(String text, String key) {
        for (String l : text.split("\n")) if (l.startsWith(key + "=")) return l.substring(key.length() + 1);
        throw new AssertionError("no " + key + "= in " + text);
    }
}
