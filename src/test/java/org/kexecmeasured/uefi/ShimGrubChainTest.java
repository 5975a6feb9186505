package org.kexecmeasured.uefi;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's signed shim → GRUB → kernel from a GPT disk image built by tests/bin/make-disk (sfdisk, mkfs.vfat,
 * mkfs.ext4): shim (first image, \EFI\debian\shimx64.efi) verifies and starts grubx64.efi, which reads its
 * configs from the ESP and the ext4 /boot through BlockIo/DiskIo, loads kernel and initrd and exits boot
 * services. The ESP comes from the disk itself (no directory). Oracles: the files make-disk put on the disk (SHA-256 by the JDK), pesign's Authenticode digest of
 * GRUB, and the ESP as mtools extracts it from the image.
 */
class ShimGrubChainTest {

    @TempDir
    static Path dir;
    static Path disk;
    static Path esp;
    static Properties expected = new Properties();
    static EmulationResult run;

    @BeforeAll
    static void boot() throws Exception {
        disk = RealParts.makeDisk(dir.resolve("d"));
        try (var r = Files.newBufferedReader(dir.resolve("d/expected.env"))) {
            expected.load(r);
        }
        // the ESP's files as mtools reads them out of the image's first partition (1 MiB in)
        esp = dir.resolve("esp");
        Files.createDirectories(esp);
        RealParts.run(List.of("mcopy", "-s", "-n", "-i", disk + "@@1M", "::EFI", esp.toString()), "mtools");
        Path shim = esp.resolve("EFI/debian/shimx64.efi");
        // the disk alone: its ESP is read by the emulator's FAT reader, its /boot by GRUB through BlockIo
        run = Emulator.run(Files.readAllBytes(shim), EmulatorOptions.builder().disk(disk)
                .bootPath("\\EFI\\debian\\shimx64.efi").payloadName("shimx64.efi").timeBudgetMillis(240_000).build());
    }

    private static List<RecordingMeasurer.Measurement> pcr(int pcr) {
        return run.measurements().stream().filter(m -> m.pcr() == pcr).toList();
    }

    private static String text(RecordingMeasurer.Measurement m) {
        byte[] d = m.eventData();
        int n = d.length > 0 && d[d.length - 1] == 0 ? d.length - 1 : d.length;
        return new String(d, 0, n, StandardCharsets.UTF_8);
    }

    private static String sha256(byte[] b) throws Exception {
        return Hex.of(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void grubMeasuresTheFilesItReadsFromTheDiskIntoPcr9() throws Exception {
        Map<String, String> files = new java.util.LinkedHashMap<>();
        for (RecordingMeasurer.Measurement m : pcr(9)) {
            files.put(text(m), Hex.of(m.dataSha256()));
        }
        Path root = Path.of(expected.getProperty("kernel")).getParent().getParent();
        assertEquals(sha256(Files.readAllBytes(esp.resolve("EFI/debian/grub.cfg"))),
                files.get("(hd0,gpt1)/EFI/debian/grub.cfg"), files.toString());
        assertEquals(sha256(Files.readAllBytes(root.resolve("boot/grub/grub.cfg"))),
                files.get("(hd0,gpt2)/boot/grub/grub.cfg"), files.toString());
        assertEquals(sha256(Files.readAllBytes(Path.of(expected.getProperty("kernel")))), files.get("/boot/vmlinuz"));
        assertEquals(sha256(Files.readAllBytes(Path.of(expected.getProperty("initrd")))), files.get("/boot/initrd.img"));
    }

    @Test
    void grubMeasuresItsCommandsAndTheKernelCommandLineIntoPcr8() {
        List<String> cmds = pcr(8).stream().map(ShimGrubChainTest::text).toList();
        assertTrue(cmds.contains("kernel_cmdline: /boot/vmlinuz " + expected.getProperty("cmdline")), cmds.toString());
        assertTrue(cmds.contains("grub_cmd: linux /boot/vmlinuz " + expected.getProperty("cmdline")), cmds.toString());
        assertTrue(cmds.contains("grub_cmd: initrd /boot/initrd.img"), cmds.toString());
        assertTrue(cmds.contains("grub_cmd: configfile (hd0,gpt2)/boot/grub/grub.cfg"), cmds.toString());
    }

    @Test
    void shimMeasuresGrubIntoPcr4AsAPeCoffImage() throws Exception {
        List<RecordingMeasurer.Measurement> images = pcr(4);
        assertEquals(1, images.size(), "shim measures the one image it starts (GRUB)");
        RecordingMeasurer.Measurement m = images.get(0);
        assertEquals(0x80000003, m.eventType());
        // PE_COFF_IMAGE over GRUB's file bytes: the TCG2 protocol (EDK2's Tcg2Dxe, our ChainMeasurer) extends
        // their Authenticode digest, what pesign prints for the file
        assertEquals(0x10, m.flags() & 0x10);
        assertArrayEquals(Files.readAllBytes(esp.resolve("EFI/debian/grubx64.efi")), m.dataToHash());
    }

    @Test
    void shimMeasuresMokListsIntoPcr14AndSbatLevelIntoPcr7() {
        List<String> pcr14 = pcr(14).stream().map(ShimGrubChainTest::text).toList();
        assertEquals(List.of("MokList", "MokListX", "MokListTrusted"), pcr14);
        assertTrue(pcr(7).stream().anyMatch(m -> m.eventType() == 0x800000e0
                && new String(m.eventData(), StandardCharsets.UTF_16LE).contains("SbatLevel")));
    }

    @Test
    void grubExitsBootServicesItselfAndEntersTheKernelThroughTheBootProtocol() {
        // Debian's GRUB 2.06 with Secure Boot off boots through its legacy linux loader (boot_params, its own
        // ExitBootServices, the relocator's jump to startup_32), so the kernel's EFI stub never runs
        assertTrue(run.trace().stream().anyMatch(t -> t.service().equals("ExitBootServices") && t.status() == 0));
        assertNull(run.postEbs());
        assertNotNull(run.handOff(), "the jump into the kernel GRUB loaded is the hand-off");
        assertEquals(HandOff.Entry.BOOT_PROTOCOL, run.handOff().entry());
        assertEquals(0, run.handOff().loadOptions().length, "no EFI stub ran, so no LoadOptions");
    }

    @Test
    void theHandOffIsTheKernelCmdlineAndInitrdOfGrubsConfig() throws Exception {
        // oracle: the files make-disk put on the ext4 /boot and the command line it wrote into grub.cfg
        HandOff h = run.handOff();
        assertArrayEquals(Files.readAllBytes(Path.of(expected.getProperty("kernel"))), h.kernel());
        assertArrayEquals(Files.readAllBytes(Path.of(expected.getProperty("initrd"))), h.initrd());
        // GRUB's linux loader prepends BOOT_IMAGE=<path> (grub-core/loader/i386/linux.c) to the config's cmdline
        assertEquals("BOOT_IMAGE=/boot/vmlinuz " + expected.getProperty("cmdline"), h.cmdline());
    }

    @Test
    void aHostileDiskIsBadInputBeforeAnythingRuns() throws Exception {
        Path bad = dir.resolve("bad.img");
        Files.write(bad, new byte[4096]);
        BadInputException e = assertThrows(BadInputException.class, () -> Emulator.run(new byte[0],
                EmulatorOptions.builder().disk(bad).esp(esp).build()));
        assertTrue(e.getMessage().contains("0x55AA"), e.getMessage());
    }

}
