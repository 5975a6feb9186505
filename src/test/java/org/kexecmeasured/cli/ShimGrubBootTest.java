package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
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
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code boot --no-load --disk IMAGE} of Debian's shim → GRUB → kernel (tests/bin/make-disk) on a swtpm brought to
 * a real firmware state: the written log replays to the TPM (tpm2_pcrread = our replay = tpm2_eventlog's;
 * {@code eventlog verify --tpm}); PCR 4 holds shim (the firmware's image event) and GRUB (shim's PE_COFF_IMAGE
 * measurement), both with pesign's Authenticode digests; PCR 9 holds GRUB's file events with the SHA-256 of the
 * files on the disk and no Linux-stub events (GRUB's linux loader never runs the kernel's EFI stub); shim's PCR 7
 * and 14 and GRUB's PCR 8 events go to the side record under the built-in policy (tcg2/README.md); the hand-off
 * is the kernel, initrd and command line of GRUB's config.
 */
class ShimGrubBootTest {

    @TempDir
    static Path dir;
    static Path disk;
    static Path esp;
    static Properties expected = new Properties();
    static EventLog fw;
    static EventLog log;
    static JsonNode json;
    static JsonNode sideRecord;
    static Path state;
    /** {@code predict --disk} of the same chain, offline from the PCRs tpm2_pcrread saw before the boot. */
    static JsonNode predicted;
    static final List<String> BANKS = List.of("sha1", "sha256");

    @BeforeAll
    static void boot() throws Exception {
        disk = RealParts.makeDisk(dir.resolve("d"));
        try (var r = Files.newBufferedReader(dir.resolve("d/expected.env"))) {
            expected.load(r);
        }
        esp = dir.resolve("esp");
        Files.createDirectories(esp);
        RealParts.run(List.of("mcopy", "-s", "-n", "-i", disk + "@@1M", "::EFI", esp.toString()), "mtools");
        Path shim = esp.resolve("EFI/debian/shimx64.efi");
        Path fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        fw = EventLog.parse(Fixtures.read(fwFile));
        try (Swtpm swtpm = Swtpm.start(BANKS)) {
            ChainFixtures.replayIntoTpm(swtpm, fw);
            Path pcrs = dir.resolve("pcrs.yaml");
            Files.writeString(pcrs, Tpm2Tools.run(swtpm.tcti(), "tpm2_pcrread", "sha1:all+sha256:all"));
            predicted = Json.MAPPER.readTree(ChainFixtures.cli(0, "predict", shim.toString(), "--policy",
                    RealParts.repoRoot().resolve("policy/minimal.yaml").toString(), "--disk", disk.toString(),
                    "--boot-path", "\\EFI\\debian\\shimx64.efi", "--pcrs", pcrs.toString(), "--firmware-log",
                    fwFile.toString(), "--json", "--time-budget", "240s").out());
            state = dir.resolve("state");
            ChainFixtures.Cli c = ChainFixtures.cli(0, "boot", shim.toString(), "--disk", disk.toString(),
                    "--boot-path", "\\EFI\\debian\\shimx64.efi", "--tpm", swtpm.tcti(), "--firmware-log",
                    fwFile.toString(), "--state-dir", state.toString(), "--no-load", "--json", "--time-budget", "240s");
            json = Json.MAPPER.readTree(c.out());
            Path logFile = state.resolve("eventlog.bin");
            log = EventLog.parse(Files.readAllBytes(logFile));
            MeasuredBootTest.assertTpmEqualsReplays(swtpm, logFile, log, BANKS);
            MeasuredBootTest.assertBoundaryFirst(log, fw.events().size());
            ChainFixtures.cli(0, "eventlog", "verify", logFile.toString(), "--tpm", swtpm.tcti(),
                    "--journal", json.path("outputs").path("journal").asText()); // archived in its generation
        }
        sideRecord = Json.MAPPER.readTree(state.resolve("not-extended.json").toFile());
    }

    private static String sha256(Path p) throws Exception {
        return Hex.of(HashAlg.SHA256.digest(Files.readAllBytes(p)));
    }

    @Test
    void pcr4HoldsShimThenGrubWithPesignsDigests() throws Exception {
        List<Event> pcr4 = MeasuredBootTest.added(log, fw.events().size(), 4);
        assertEquals(4, pcr4.size(), "boundary, boot option action, shim, GRUB: " + pcr4);
        assertEquals("Calling EFI Application from Boot Option", new String(pcr4.get(1).data(), StandardCharsets.US_ASCII));
        assertEquals(ChainFixtures.pesignHash(esp.resolve("EFI/debian/shimx64.efi"), "sha256"),
                Hex.of(pcr4.get(2).digest(HashAlg.SHA256)), "the firmware's image event for shim");
        assertEquals(ChainFixtures.pesignHash(esp.resolve("EFI/debian/grubx64.efi"), "sha256"),
                Hex.of(pcr4.get(3).digest(HashAlg.SHA256)), "shim's PE_COFF_IMAGE measurement of GRUB");
    }

    @Test
    void pcr9HoldsGrubsFilesAndNoLinuxStubEvents() throws Exception {
        List<Event> pcr9 = MeasuredBootTest.added(log, fw.events().size(), 9);
        List<String> digests = new ArrayList<>();
        for (Event e : pcr9.subList(1, pcr9.size())) {
            assertEquals(0xd, e.eventType(), "GRUB logs its files as EV_IPL; a Linux stub's EV_EVENT_TAG would be wrong: " + e);
            digests.add(Hex.of(e.digest(HashAlg.SHA256)));
        }
        Path root = Path.of(expected.getProperty("kernel")).getParent().getParent();
        assertEquals(List.of(sha256(esp.resolve("EFI/debian/grub.cfg")), sha256(root.resolve("boot/grub/grub.cfg")),
                sha256(Path.of(expected.getProperty("kernel"))), sha256(Path.of(expected.getProperty("initrd")))), digests);
    }

    @Test
    void shimsPcr7And14AndGrubsPcr8GoToTheSideRecord() {
        TreeSet<Integer> pcrs = new TreeSet<>();
        List<String> pcr8 = new ArrayList<>();
        for (JsonNode e : sideRecord.get("events")) {
            pcrs.add(e.get("pcr").asInt());
            if (e.get("pcr").asInt() == 8) {
                pcr8.add(new String(Base64.getDecoder().decode(e.get("eventData").asText()), StandardCharsets.UTF_8)
                        .replace("\0", ""));
            }
        }
        assertEquals(new TreeSet<>(List.of(7, 8, 14)), pcrs);
        assertTrue(pcr8.contains("kernel_cmdline: /boot/vmlinuz " + expected.getProperty("cmdline")), pcr8.toString());
        for (Event e : log.events().subList(fw.events().size(), log.events().size())) {
            assertTrue(!List.of(7L, 8L, 14L).contains(e.pcrIndex()), "extended outside the built-in set: " + e);
        }
    }

    @Test
    void theManifestsHandOffIsGrubsCmdlineAndInitrd() throws Exception {
        JsonNode h = Json.MAPPER.readTree(Path.of(json.path("outputs").path("manifest").asText()).toFile()).path("handOff");
        // GRUB's linux loader puts BOOT_IMAGE=<path> before the config's command line (grub-core/loader/i386/linux.c)
        assertEquals("BOOT_IMAGE=/boot/vmlinuz " + expected.getProperty("cmdline"), h.path("cmdline").asText(), h.toString());
        assertEquals(Files.size(Path.of(expected.getProperty("initrd"))), h.path("initrdSize").asLong(), h.toString());
    }

    /**
     * {@code predict --disk} plans the chain the boot then logged: the same payload measurements (everything after
     * the boundary records, whose nonce differs per run) in the same order with the same digests, GRUB's among them
     * with pesign's Authenticode digest.
     */
    @Test
    void predictWithTheDiskPlansWhatTheBootLogged() throws Exception {
        List<String> planned = new ArrayList<>();
        for (JsonNode e : predicted.get("events")) {
            if (e.get("origin").asText().equals("boundary") || !e.get("disposition").asText().equals("extend")) continue;
            planned.add(e.get("pcr").asInt() + ":" + e.get("digests").get("sha256").asText());
        }
        List<String> logged = new ArrayList<>();
        for (Event e : log.events().subList(fw.events().size(), log.events().size())) {
            if (e.eventType() == 0x6 /* EV_EVENT_TAG */ && MeasuredBootTest.added(log, fw.events().size(), (int) e.pcrIndex()).get(0) == e) {
                continue; // the boundary record of its PCR
            }
            if (java.util.Arrays.equals(e.digest(HashAlg.SHA256), new byte[32])) continue; // logged, not extended
            logged.add(e.pcrIndex() + ":" + Hex.of(e.digest(HashAlg.SHA256)));
        }
        assertEquals(logged, planned, "predict --disk vs boot --disk: " + predicted.get("events"));
        assertTrue(planned.contains("4:" + ChainFixtures.pesignHash(esp.resolve("EFI/debian/grubx64.efi"), "sha256")), planned.toString());
    }
}
