package org.kexecmeasured.uefi;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.Le;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's signed shim → GRUB → kernel from make-disk's image with Secure Boot on (SecureBoot = 1, SetupMode = 0):
 * shim verifies GRUB against its built-in vendor certificate, GRUB has shim verify the kernel (shim_lock) and boots
 * it through its linuxefi loader — the kernel's EFI handover entry, before ExitBootServices — instead of the legacy
 * loader it uses with Secure Boot off ({@link ShimGrubChainTest}). Oracles: the files make-disk put on the disk and
 * the command line it wrote; sbverify (sbsigntool) for the certificate shim logs as the authority in PCR 7.
 */
class ShimGrubSecureBootTest {

    /** EV_EFI_VARIABLE_AUTHORITY (TCG PC Client PFP, table 9). */
    static final int EV_EFI_VARIABLE_AUTHORITY = 0x800000E0;

    @TempDir
    static Path dir;
    static Properties expected = new Properties();
    static EmulationResult run;
    static byte[] grub;

    @BeforeAll
    static void boot() throws Exception {
        Path disk = RealParts.makeDisk(dir.resolve("d"));
        try (var r = Files.newBufferedReader(dir.resolve("d/expected.env"))) {
            expected.load(r);
        }
        byte[] shim = RealParts.runBytes(List.of("mtype", "-i", disk + "@@1M", "::EFI/debian/shimx64.efi"), "mtools");
        grub = RealParts.runBytes(List.of("mtype", "-i", disk + "@@1M", "::EFI/debian/grubx64.efi"), "mtools");
        run = Emulator.run(shim, EmulatorOptions.builder().disk(disk).secureBoot(true).bootPath("\\EFI\\debian\\shimx64.efi")
                .payloadName("shimx64.efi").timeBudgetMillis(240_000).build());
    }

    @Test
    void grubBootsTheKernelThroughItsEfiHandoverEntryBeforeExitBootServices() {
        assertNotNull(run.handOff(), "the jump into the kernel GRUB loaded is the hand-off");
        assertEquals(HandOff.Entry.EFI_HANDOVER, run.handOff().entry());
        assertNull(run.postEbs());
        assertFalse(run.trace().stream().anyMatch(t -> t.service().equals("ExitBootServices")),
                "boot services are still on: the kernel's own EFI stub would exit them");
    }

    @Test
    void theHandOffIsTheKernelCmdlineAndInitrdOfGrubsConfig() throws Exception {
        HandOff h = run.handOff();
        assertArrayEquals(Files.readAllBytes(Path.of(expected.getProperty("kernel"))), h.kernel());
        assertArrayEquals(Files.readAllBytes(Path.of(expected.getProperty("initrd"))), h.initrd());
        assertEquals("BOOT_IMAGE=/boot/vmlinuz " + expected.getProperty("cmdline"), h.cmdline());
    }

    @Test
    void grubMeasuresTheKernelAndInitrdItLoadedIntoPcr9() {
        List<String> files = run.measurements().stream().filter(m -> m.pcr() == 9)
                .map(m -> new String(m.eventData(), StandardCharsets.UTF_8).replace("\0", "")).toList();
        assertTrue(files.contains("/boot/vmlinuz") && files.contains("/boot/initrd.img"), files.toString());
    }

    /**
     * With Secure Boot on, shim logs the certificate that let it start GRUB as an EV_EFI_VARIABLE_AUTHORITY event
     * in PCR 7 (UEFI_VARIABLE_DATA whose data is an EFI_SIGNATURE_DATA: owner GUID, then the DER certificate).
     * sbverify checks GRUB's Authenticode signature chains to that certificate.
     */
    @Test
    void shimLogsTheAuthorityThatVerifiedGrubAndSbverifyAgrees() throws Exception {
        List<byte[]> certs = new ArrayList<>();
        for (RecordingMeasurer.Measurement m : run.measurements()) {
            if (m.pcr() != 7 || m.eventType() != EV_EFI_VARIABLE_AUTHORITY) continue;
            byte[] d = m.eventData();
            long nameChars = Le.u64(d, 16);
            long dataLen = Le.u64(d, 24);
            int data = (int) (32 + 2 * nameChars);
            // a DER SEQUENCE with a two-byte length filling the rest (SbatLevel's text is no certificate)
            int der = data + 16;
            if (dataLen > 20 && data + dataLen <= d.length && (d[der] & 0xff) == 0x30 && (d[der + 1] & 0xff) == 0x82
                    && ((d[der + 2] & 0xff) << 8 | (d[der + 3] & 0xff)) + 4 == dataLen - 16) {
                certs.add(Arrays.copyOfRange(d, data + 16, (int) (data + dataLen)));
            }
        }
        assertFalse(certs.isEmpty(), "a certificate authority event in PCR 7");
        Path grubFile = dir.resolve("grubx64.efi");
        Files.write(grubFile, grub);
        List<String> verified = new ArrayList<>();
        for (int i = 0; i < certs.size(); i++) {
            Path der = dir.resolve("authority" + i + ".der");
            Path pem = dir.resolve("authority" + i + ".pem");
            Files.write(der, certs.get(i));
            RealParts.run(List.of("openssl", "x509", "-inform", "DER", "-in", der.toString(), "-out", pem.toString()), "openssl");
            RealParts.Result r = RealParts.runAny(List.of("sbverify", "--cert", pem.toString(), grubFile.toString()), "sbsigntool");
            if (r.exit() == 0) verified.add(RealParts.run(List.of("openssl", "x509", "-noout", "-subject", "-in", pem.toString()), "openssl"));
        }
        assertFalse(verified.isEmpty(), "a logged authority verifies GRUB (sbverify); logged: " + certs.size());
    }
}
