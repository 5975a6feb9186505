package org.kexecmeasured.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Le;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * File mode end to end (tests/e2e "main"): OVMF boots gen1 (a UKI); {@code kexec-measured boot --exec}
 * hands over to gen2 (another UKI: cmdline, initrd, os-release differ) and from there to gen3; gen3 loads
 * a crash kernel with {@code --crash} and crashes into it. The oracles are the guest's TPM (swtpm, PCRs read
 * through the kernel's sysfs), tpm2_eventlog, systemd-measure, tpm2-tools (seal/unseal) and the kernel
 * itself (what it booted, with which command line and initrd).
 */
@Tag("e2e")
class MainScenarioE2eTest {
    static final int BOUNDARY_TAG = 0x4B584D42;
    static Path run;

    @BeforeAll
    static void boot() {
        run = E2eRun.run("main");
    }

    // ------------------------------------------------------------------ gen1 → gen2

    @Test
    void gen1HandedOverToGen2WithTheUkisCmdlineAndInitrd() {
        Path g1 = E2eRun.stage(run, "gen1");
        assertEquals("0\n0\n", E2eRun.text(g1.resolve("seal.rc")), "gen1 sealed both secrets");
        assertFalse(g1.resolve("boot.rc").toFile().exists(), () -> "boot --exec returned in gen1: "
                + E2eRun.text(g1.resolve("boot.err")));
        Path g2 = E2eRun.stage(run, "gen2");
        assertEquals("gen2", E2eRun.text(g2.resolve("uki")).strip(), "gen2 booted gen2.efi's initrd");
        assertEquals(E2eRun.text(run.resolve("gen2.cmdline")), E2eRun.text(g2.resolve("cmdline")).strip(),
                "the kernel's command line is the one gen2.efi's stub computed");
        assertTrue(g2.resolve("sidecar/tpm2-event-log.bin").toFile().isFile(), "the initramfs-tools hook copied the sidecar");
        assertTrue(g2.resolve("sidecar/manifest.json").toFile().isFile());
    }

    @Test
    void gen2PcrsReplayFromTheSidecarLogOursAndTpm2Eventlog() {
        Path g2 = E2eRun.stage(run, "gen2");
        checkReplays(g2, "gen2");
    }

    @Test
    void theSidecarLogContinuesTheFirmwareLogByteForByte() {
        byte[] fw = E2eRun.bytes(E2eRun.stage(run, "gen1").resolve("securityfs-log.bin"));
        byte[] side = E2eRun.bytes(E2eRun.stage(run, "gen2").resolve("sidecar/tpm2-event-log.bin"));
        assertTrue(side.length > fw.length);
        assertArrayEquals(fw, Arrays.copyOf(side, fw.length), "firmware records kept as the head of the log");
        byte[] g2fw = E2eRun.bytes(E2eRun.stage(run, "gen2").resolve("securityfs-log.bin"));
        assertArrayEquals(fw, g2fw, "after kexec_file_load securityfs still holds only the firmware's records");
    }

    @Test
    void theBoundaryPrecedesGen2sEventsInEveryBoundaryPcr() {
        EventLog fw = E2eRun.log(E2eRun.stage(run, "gen1").resolve("securityfs-log.bin"));
        EventLog side = E2eRun.log(E2eRun.stage(run, "gen2").resolve("sidecar/tpm2-event-log.bin"));
        List<Event> added = side.events().subList(fw.events().size(), side.events().size());
        List<Event> boundaries = added.stream().filter(MainScenarioE2eTest::isBoundary).toList();
        assertFalse(boundaries.isEmpty(), "a boundary record");
        TreeSet<Integer> set = boundaryPcrs(boundaries.get(0));
        assertEquals(set, new TreeSet<>(boundaries.stream().map(e -> (int) e.pcrIndex()).toList()),
                "one boundary record per PCR of its pcrs= line");
        for (int pcr : set) {
            List<Event> inPcr = added.stream().filter(e -> e.pcrIndex() == pcr && !isOsRecord(e)).toList();
            assertTrue(isBoundary(inPcr.get(0)), "PCR " + pcr + ": the first added record is the boundary");
            assertEquals(1, inPcr.stream().filter(MainScenarioE2eTest::isBoundary).count());
        }
        assertTrue(added.stream().anyMatch(e -> e.pcrIndex() == 11 && !isBoundary(e)), "gen2.efi's PCR 11 records follow");
    }

    @Test
    void gen2sPcr11EventsEqualSystemdMeasureForGen2sUki() {
        EventLog side = E2eRun.log(E2eRun.stage(run, "gen2").resolve("sidecar/tpm2-event-log.bin"));
        byte[] pcr = new byte[32];
        boolean after = false;
        for (Event e : side.events()) {
            if (e.pcrIndex() != 11) continue;
            if (isBoundary(e)) {
                after = true;
                continue;
            }
            if (after) pcr = HashAlg.SHA256.extend(pcr, digest(e, HashAlg.SHA256));
        }
        assertTrue(after);
        // systemd-measure 252 prints the value after the first phase word, "enter-initrd"
        pcr = HashAlg.SHA256.extend(pcr, HashAlg.SHA256.digest("enter-initrd".getBytes(StandardCharsets.US_ASCII)));
        String out = RealParts.run(List.of(RealParts.SYSTEMD_MEASURE.toString(), "calculate",
                "--linux=" + run.resolve("gen2.vmlinuz"), "--osrel=" + run.resolve("gen2.os-release"),
                "--cmdline=" + run.resolve("gen2.cmdline"), "--initrd=" + run.resolve("gen2.initrd"), "--bank=sha256"), "systemd");
        String expected = out.lines().filter(l -> l.startsWith("11:sha256=")).findFirst().orElseThrow().substring(10);
        assertEquals(expected, Hex.of(pcr));
    }

    @Test
    void aSecretSealedToGen1sPristinePcr11DoesNotUnsealInGen2() {
        Path g2 = E2eRun.stage(run, "gen2");
        assertEquals("0", E2eRun.text(g2.resolve("unseal-pcr0.rc")).strip(), "control: PCR 0 is untouched, its secret unseals");
        assertEquals("secret-pcr0", E2eRun.text(g2.resolve("unseal-pcr0.out")).strip());
        assertNotEquals("0", E2eRun.text(g2.resolve("unseal-pcr11.rc")).strip(), "the PCR 11 secret must not unseal");
        assertFalse(E2eRun.text(g2.resolve("unseal-pcr11.out")).contains("secret-pcr11"));
    }

    @Test
    void gen2ReadsTheContinuedLogByDefault() {
        Path g2 = E2eRun.stage(run, "gen2");
        String v = E2eRun.text(g2.resolve("verify.txt"));
        assertTrue(v.contains("reading the continued log /run/kexec-measured/tpm2-event-log.bin"), v);
        // IMA measured gen2's boot_aggregate after the sidecar was written: the one PCR the sidecar cannot know
        for (String line : v.split("\n")) {
            if (line.startsWith("MISMATCH")) assertTrue(line.contains("PCR 10:"), line);
        }
    }

    @Test
    void gen2sEventlogShowWithoutAFileReadsTheContinuedLogAndSaysSo() {
        Path g2 = E2eRun.stage(run, "gen2");
        assertEquals("0", E2eRun.text(g2.resolve("show.rc")).strip(), () -> E2eRun.text(g2.resolve("show.txt")));
        String show = E2eRun.text(g2.resolve("show.txt"));
        assertTrue(show.contains("reading the continued log /run/kexec-measured/tpm2-event-log.bin"), show);
        // what it shows is that log: as many records as the sidecar's, the boundary among them
        EventLog side = E2eRun.log(g2.resolve("sidecar/tpm2-event-log.bin"));
        EventLog fw = E2eRun.log(g2.resolve("securityfs-log.bin"));
        assertTrue(side.events().size() > fw.events().size());
        assertTrue(show.contains("kexec-measured boundary"), show);
    }

    // ------------------------------------------------------------------ re-authorization (gen1 --policy → gen2)

    /**
     * gen1 enrolled a LUKS2 token with {@code systemd-cryptenroll --tpm2-public-key} (signed PCR 11 policy)
     * and booted gen2 with a policy that re-authorizes it. In gen2 systemd's own token plugin
     * ({@code cryptsetup open --test-passphrase --token-only}) is the oracle: with the signature the sidecar
     * carried it opens after the phase enter-initrd (the signed phases) and not at the kernel's start; without
     * it, never — while the tpm2-tools secret sealed to gen1's pristine PCR 11 stays sealed.
     */
    @Test
    void aSecretTheReauthorizationCoversOpensInGen2WhileOneSealedToGen1sPristinePcr11DoesNot() throws Exception {
        Path g1 = E2eRun.stage(run, "gen1");
        Path g2 = E2eRun.stage(run, "gen2");
        assertEquals("0", E2eRun.text(g1.resolve("enroll.rc")).strip(), () -> E2eRun.text(g1.resolve("enroll.out")));
        // the policy's verdict, in the manifest the sidecar carried
        com.fasterxml.jackson.databind.JsonNode manifest = org.kexecmeasured.util.Json.MAPPER.readTree(
                E2eRun.bytes(g2.resolve("sidecar/manifest.json")));
        com.fasterxml.jackson.databind.JsonNode secret = manifest.path("policyDecision").path("secrets").path(0);
        assertEquals("disk", secret.path("name").asText(), manifest.toPrettyString());
        assertEquals("reachable", secret.path("verdict").asText(), secret.toPrettyString());
        String reachableAt = secret.path("routes").toString();
        assertTrue(reachableAt.contains("enter-initrd"), reachableAt);
        // the re-authorization came over in the sidecar, signed over the PCR 11 gen2 really holds after
        // enter-initrd: PolicyPCR(sha256:11) computed by tpm2-tools' trial session in gen2
        Path sigFile = g2.resolve("sidecar/tpm2-pcr-signature.json");
        assertTrue(sigFile.toFile().isFile(), "the sidecar carries tpm2-pcr-signature.json");
        String pol = Hex.of(E2eRun.bytes(g2.resolve("policy-pcr11-enter-initrd.bin")));
        com.fasterxml.jackson.databind.JsonNode sig = org.kexecmeasured.util.Json.MAPPER.readTree(E2eRun.bytes(sigFile));
        boolean covered = false;
        for (com.fasterxml.jackson.databind.JsonNode e : sig.path("sha256")) {
            if (e.path("pol").asText().equalsIgnoreCase(pol) && e.path("pcrs").toString().equals("[11]")) covered = true;
        }
        assertTrue(covered, "a sha256 entry signs PolicyPCR(11) = " + pol + ": " + sig);
        // systemd's token plugin decides
        assertEquals("0", E2eRun.text(g2.resolve("pcrphase.rc")).strip());
        assertNotEquals("0", E2eRun.text(g2.resolve("token-kernel-start-signed.rc")).strip(),
                () -> "signed for the phases only, yet opened at the kernel's start: " + E2eRun.text(g2.resolve("token-kernel-start-signed.out")));
        assertEquals("0", E2eRun.text(g2.resolve("token-enter-initrd-signed.rc")).strip(),
                () -> "the re-authorized token did not open after enter-initrd: " + E2eRun.text(g2.resolve("token-enter-initrd-signed.out")));
        assertNotEquals("0", E2eRun.text(g2.resolve("token-enter-initrd-unsigned.rc")).strip(),
                "control: without the re-authorized signature the token stays closed");
        // and the secret sealed (tpm2-tools, PolicyPCR) to gen1's pristine PCR 11 does not unseal
        assertNotEquals("0", E2eRun.text(g2.resolve("unseal-pcr11.rc")).strip());
        assertEquals("0", E2eRun.text(g2.resolve("unseal-pcr0.rc")).strip(), "control: PCR 0's secret unseals");
    }

    // ------------------------------------------------------------------ gen3

    @Test
    void gen3AddsASecondBoundaryWithANewNonceAndStillReplays() {
        Path g3 = E2eRun.stage(run, "gen3");
        assertEquals("gen3", E2eRun.text(g3.resolve("uki")).strip());
        byte[] log2 = E2eRun.bytes(E2eRun.stage(run, "gen2").resolve("sidecar/tpm2-event-log.bin"));
        byte[] log3 = E2eRun.bytes(g3.resolve("sidecar/tpm2-event-log.bin"));
        assertArrayEquals(log2, Arrays.copyOf(log3, log2.length), "gen3's log continues gen2's");
        EventLog side = E2eRun.log(g3.resolve("sidecar/tpm2-event-log.bin"));
        List<String> nonces = new ArrayList<>();
        for (Event e : side.events()) {
            if (isBoundary(e) && e.pcrIndex() == 11) nonces.add(field(e, "nonce"));
        }
        assertEquals(2, nonces.size(), "two generations, two boundaries in PCR 11");
        assertNotEquals(nonces.get(0), nonces.get(1));
        checkReplays(g3, "gen3");
    }

    // ------------------------------------------------------------------ crash kernel

    @Test
    void aCrashLoadChangesNoPcrAndTheCrashKernelBootsAfterSysrq() {
        Path g3 = E2eRun.stage(run, "gen3");
        assertEquals("0", E2eRun.text(g3.resolve("crash-load.rc")).strip(), () -> E2eRun.text(g3.resolve("crash-load.err")));
        assertEquals("1", E2eRun.text(g3.resolve("kexec_crash_loaded-after")).strip());
        Map<HashAlg, byte[][]> before = E2eRun.pcrs(g3.resolve("pcrs-before-crash-load.txt"));
        Map<HashAlg, byte[][]> after = E2eRun.pcrs(g3.resolve("pcrs-after-crash-load.txt"));
        for (HashAlg a : before.keySet()) {
            for (int i = 0; i < 24; i++) assertArrayEquals(before.get(a)[i], after.get(a)[i], a + " PCR " + i);
        }
        Path c = E2eRun.stage(run, "crash");
        assertEquals("crash", E2eRun.text(c.resolve("uki")).strip());
        assertTrue(E2eRun.text(c.resolve("cmdline")).contains("km.stage=crash"));
        // PCR 10: the crash kernel's IMA measures its own boot_aggregate
        E2eRun.assertSamePcrsButIma(after, E2eRun.pcrs(c.resolve("pcrs.txt")), "nothing extends on the way into the crash kernel");
    }

    // ------------------------------------------------------------------ helpers

    /**
     * PCRs 0–15 of both banks equal the replay of the sidecar log (ours and tpm2_eventlog); PCR 10 with the
     * stage's IMA list. (16–23 are the debug, DRTM and application PCRs no log here touches; 17–22 reset to ones.)
     */
    static void checkReplays(Path stage, String name) {
        Path logFile = stage.resolve("sidecar/tpm2-event-log.bin");
        Map<HashAlg, byte[][]> tpm = E2eRun.pcrs(stage.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> ours = Replay.replay(E2eRun.log(logFile));
        Map<HashAlg, byte[][]> theirs = Tpm2EventlogOracle.replay(logFile);
        for (HashAlg a : tpm.keySet()) {
            for (int i = 0; i < 16; i++) {
                byte[] expected = tpm.get(a)[i];
                if (i == 10) {
                    assertArrayEquals(expected, E2eRun.withIma(ours.get(a)[10], stage.resolve("ima.bin"), a),
                            name + " " + a + " PCR 10 = the sidecar log + this generation's IMA list");
                    continue;
                }
                assertEquals(Hex.of(expected), Hex.of(ours.get(a)[i]), name + " " + a + " PCR " + i + " (our replay)");
                assertEquals(Hex.of(expected), Hex.of(theirs.get(a)[i]), name + " " + a + " PCR " + i + " (tpm2_eventlog)");
            }
        }
    }

    static boolean isBoundary(Event e) {
        byte[] d = e.data();
        return e.eventType() == 6 && d.length >= 8 && Le.i32(d, 0) == BOUNDARY_TAG;
    }

    static boolean isOsRecord(Event e) {
        byte[] d = e.data();
        return e.eventType() == 6 && d.length >= 8 && (Le.i32(d, 0) == 0x4B584D49 || Le.i32(d, 0) == 0x4B584D53);
    }

    static String field(Event e, String key) {
        String text = new String(e.data(), 8, e.data().length - 8, StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("(?m)^" + key + "=(.*)$").matcher(text);
        if (!m.find()) fail("boundary without " + key + "=: " + text);
        return m.group(1);
    }

    static TreeSet<Integer> boundaryPcrs(Event e) {
        TreeSet<Integer> s = new TreeSet<>();
        for (String p : field(e, "pcrs").split(",")) s.add(Integer.parseInt(p));
        return s;
    }

    static byte[] digest(Event e, HashAlg a) {
        byte[] d = e.digest(a);
        if (d == null) fail("no " + a + " digest in record " + e.index());
        return d;
    }
}
