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
    static final List<String> BANKS = List.of("sha1", "sha256");
    static JsonNode predicted;

    /**
     * predict --disk foretells the boot's records: the same measurements (PCR, SHA-256) in the same order after
     * the boundary. (Not the PCR values themselves: every boundary event carries a fresh nonce and time.)
     */
    @org.junit.jupiter.api.Test
    void predictWithTheDiskForetoldTheBootsRecords() {
        List<String> foretold = new java.util.ArrayList<>();
        int boundary = 0;
        for (JsonNode e : predicted.path("events")) {
            if (!e.path("disposition").asText().equals("extend")) continue;
            if (e.path("origin").asText().equals("boundary")) {
                boundary++;
                continue;
            }
            foretold.add(e.path("pcr").asInt() + ":" + e.path("digests").path("sha256").asText().toLowerCase(java.util.Locale.ROOT));
        }
        List<String> happened = new java.util.ArrayList<>();
        List<org.kexecmeasured.eventlog.Event> after = log.events().subList(fw.events().size() + boundary, log.events().size());
        for (org.kexecmeasured.eventlog.Event e : after) {
            happened.add(e.pcrIndex() + ":" + org.kexecmeasured.util.Hex.of(e.digest(org.kexecmeasured.util.HashAlg.SHA256)));
        }
        assertTrue(boundary >= 6 && foretold.size() >= 3, "boundary records and shim/GRUB/kernel records foretold: " + predicted);
        assertEquals(happened, foretold, "predict --disk vs the continued log of boot --disk");
    }

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
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fw)) {
            state = dir.resolve("state");
            // predict first, with the same disk and a policy that keeps the built-in PCR sets: the oracle is the
            // TPM after the real boot
            Path policy = dir.resolve("policy.yaml");
            Files.writeString(policy, "version: 1\n");
            ChainFixtures.Cli p = ChainFixtures.cli(0, "predict", "--policy", policy.toString(), shim.toString(), "--disk",
                    disk.toString(), "--boot-path", "\\EFI\\debian\\shimx64.efi", "--tpm", swtpm.tcti(), "--firmware-log",
                    fwFile.toString(), "--json", "--time-budget", "240s");
            predicted = Json.MAPPER.readTree(p.out());
            ChainFixtures.Cli c = ChainFixtures.cli(0, "boot", shim.toString(), "--disk", disk.toString(),
                    "--boot-path", "\\EFI\\debian\\shimx64.efi", "--tpm", swtpm.tcti(), "--firmware-log",
                    fwFile.toString(), "--state-dir", state.toString(), "--no-load", "--json", "--time-budget", "240s");
            json = Json.MAPPER.readTree(c.out());
            Path logFile = state.resolve("eventlog.bin");
            log = EventLog.parse(Files.readAllBytes(logFile));
            MeasuredBootTest.assertTpmEqualsReplays(swtpm, logFile, log, BANKS);
            MeasuredBootTest.assertBoundaryFirst(log, fw.events().size());
            ChainFixtures.cli(0, "eventlog", "verify", logFile.toString(), "--tpm", swtpm.tcti(),
                    "--journal", json.path("outputs").path("journal").asText());
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
     * Payload trust over the shim → GRUB → kernel chain, trusting only Debian's Secure Boot CA (taken from shim's own
     * .vendor_cert, the certificate shim verifies GRUB and the kernel with): shim, signed by Microsoft's UEFI CA, is
     * refused by name — shim's own verification is not trusted implicitly —, while GRUB (loaded by shim's own PE
     * loader, never through LoadImage) and the kernel GRUB hands over are checked and pass. sbverify is the oracle.
     */
    @Test
    void payloadTrustCoversShimGrubAndTheKernelItHandsOver() throws Exception {
        Path shim = esp.resolve("EFI/debian/shimx64.efi");
        Path grub = esp.resolve("EFI/debian/grubx64.efi");
        Path vc = dir.resolve("vendor_cert.bin");
        RealParts.run(List.of("objcopy", "-O", "binary", "--only-section=.vendor_cert", shim.toString(), vc.toString()), "binutils");
        byte[] b = Files.readAllBytes(vc);
        // struct { u32 authorized_size, deauthorized_size, authorized_offset, deauthorized_offset; } (shim's cert.S)
        int size = (int) org.kexecmeasured.util.Le.u32(b, 0);
        int off = (int) org.kexecmeasured.util.Le.u32(b, 8);
        Path der = dir.resolve("debian-ca.der");
        Files.write(der, java.util.Arrays.copyOfRange(b, off, off + size));
        Path ca = dir.resolve("debian-ca.pem");
        RealParts.run(List.of("openssl", "x509", "-inform", "DER", "-in", der.toString(), "-out", ca.toString()), "openssl");
        Path kernel = Path.of(expected.getProperty("kernel"));
        assertTrue(RealParts.runAny(List.of("sbverify", "--cert", ca.toString(), grub.toString()), "sbsigntool").exit() == 0, "sbverify: GRUB");
        assertTrue(RealParts.runAny(List.of("sbverify", "--cert", ca.toString(), kernel.toString()), "sbsigntool").exit() == 0, "sbverify: kernel");
        // (sbverify --cert accepts Debian's shim with any certificate at all, so for shim its --list is the oracle: every
        // signature is issued by Microsoft's UEFI CAs, none by Debian's)
        String shimSigners = RealParts.run(List.of("sbverify", "--list", shim.toString()), "sbsigntool");
        assertTrue(shimSigners.contains("Microsoft Corporation UEFI CA") && !shimSigners.contains("Debian"), shimSigners);

        Path policy = dir.resolve("debian-only.yaml");
        Files.writeString(policy, "version: 1\npayload: {require-signature: true, trusted-certificates: [debian-ca.pem]}\n");
        Path fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fw)) {
            ChainFixtures.Cli p = ChainFixtures.cli("predict", "--policy", policy.toString(), shim.toString(), "--disk",
                    disk.toString(), "--boot-path", "\\EFI\\debian\\shimx64.efi", "--tpm", swtpm.tcti(), "--firmware-log",
                    fwFile.toString(), "--json", "--time-budget", "240s");
            assertEquals(Main.EXIT_POLICY_DENIED, p.rc(), p.out() + p.err());
            JsonNode payload = Json.MAPPER.readTree(p.out()).path("decision").path("payload");
            assertEquals(1, payload.path("failures").size(), payload.toString());
            assertTrue(payload.path("failures").get(0).asText().startsWith("the payload shimx64.efi: no signer verifies and chains"),
                    payload.toString());
            String checked = payload.path("checked").toString();
            assertTrue(checked.contains("grubx64.efi (loaded by the chain's own loader): a signer verifies"), checked);
            assertTrue(checked.contains("(the kernel handed over): a signer verifies"), checked);
        }
    }
}
