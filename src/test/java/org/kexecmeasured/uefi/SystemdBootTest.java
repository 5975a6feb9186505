package org.kexecmeasured.uefi;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Acceptance: Debian's systemd-bootx64.efi over a directory ESP (loader.conf timeout 0) boots a UKI in
 * EFI/Linux and a type-1 entry to the kernel cut-over; a credential beside the UKI reaches the initrd.
 */
class SystemdBootTest {

    @TempDir
    static Path dir;
    static Path uki;

    @BeforeAll
    static void build() throws Exception {
        TestPayloads.require(TestPayloads.SD_BOOT, "systemd-boot-efi");
        uki = TestPayloads.makeUki(dir.resolve("uki"));
    }

    private static Path esp(String name, String defaultEntry, boolean credential) throws Exception {
        Path e = dir.resolve(name);
        Files.createDirectories(e.resolve("EFI/BOOT"));
        Files.createDirectories(e.resolve("EFI/Linux"));
        Files.createDirectories(e.resolve("loader/entries"));
        Files.copy(TestPayloads.SD_BOOT, e.resolve("EFI/BOOT/BOOTX64.EFI"));
        Files.copy(uki.resolve("demo.efi"), e.resolve("EFI/Linux/debian-uki.efi"));
        Files.copy(uki.resolve("vmlinuz"), e.resolve("vmlinuz"));
        Files.copy(uki.resolve("initrd.cpio"), e.resolve("initrd.img"));
        Files.writeString(e.resolve("loader/loader.conf"), "timeout 0\ndefault " + defaultEntry + "\n");
        Files.writeString(e.resolve("loader/entries/debian.conf"), "title Debian (type 1)\nlinux /vmlinuz\n"
                + "initrd /initrd.img\noptions console=ttyS0 root=/dev/vda ro type1\n");
        if (credential) {
            Files.createDirectories(e.resolve("EFI/Linux/debian-uki.efi.extra.d"));
            Files.writeString(e.resolve("EFI/Linux/debian-uki.efi.extra.d/test.cred"), "secret credential\n");
        }
        return e;
    }

    private static RecordingMeasurer measurer;

    private static EmulationResult boot(Path esp) throws Exception {
        measurer = new RecordingMeasurer();
        return Emulator.run(Files.readAllBytes(esp.resolve("EFI/BOOT/BOOTX64.EFI")), EmulatorOptions.builder()
                .esp(esp).payloadName("BOOTX64.EFI").timeBudgetMillis(60_000).measurer(measurer).build());
    }

    @Test
    void bootsTheUkiEntry() throws Exception {
        EmulationResult r = boot(esp("esp-uki", "debian-uki.efi", false));
        HandOff h = r.handOff();
        assertNotNull(h);
        assertArrayEquals(Files.readAllBytes(uki.resolve("vmlinuz")), h.kernel());
        assertEquals(Files.readString(uki.resolve("cmdline.txt")), h.cmdline());
        assertArrayEquals(Files.readAllBytes(uki.resolve("initrd.cpio")), h.initrd());
        // sd-boot measures the UKI's command line into PCR 12 before starting it
        assertTrue(r.measurements().stream().anyMatch(m -> m.pcr() == 12
                && new String(m.eventData(), StandardCharsets.UTF_16LE).contains("console=ttyS0 root=/dev/vda ro quiet")));
        assertEquals(8, r.measurements().stream().filter(m -> m.pcr() == 11).count());
        // image loads: sd-boot (first), the UKI from its file device path, the kernel from the stub's buffer
        var loads = measurer.imageLoads();
        assertEquals(3, loads.size());
        assertTrue(loads.get(0).firstImage());
        assertEquals((int) Files.size(uki.resolve("demo.efi")), loads.get(1).fileSize());
        assertTrue(org.kexecmeasured.efi.DevicePath.parse(loads.get(1).devicePath()).toText()
                .endsWith("/\\EFI\\Linux\\debian-uki.efi"), "UKI loaded by HD()/File() device path");
        assertEquals(h.kernel().length, loads.get(2).fileSize());
    }

    @Test
    void bootsTheType1Entry() throws Exception {
        EmulationResult r = boot(esp("esp-type1", "debian.conf", false));
        HandOff h = r.handOff();
        assertNotNull(h);
        assertArrayEquals(Files.readAllBytes(uki.resolve("vmlinuz")), h.kernel());
        assertTrue(h.cmdline().endsWith("console=ttyS0 root=/dev/vda ro type1"), h.cmdline());
        assertArrayEquals(Files.readAllBytes(uki.resolve("initrd.cpio")), h.initrd(), "sd-boot's own LoadFile2 initrd");
        assertTrue(h.devicePath().startsWith("HD(1,GPT,") && h.devicePath().endsWith("/\\vmlinuz"), h.devicePath());
    }

    @Test
    void credentialBesideTheUkiReachesTheInitrd() throws Exception {
        EmulationResult r = boot(esp("esp-cred", "debian-uki.efi", true));
        byte[] initrd = r.handOff().initrd();
        byte[] base = Files.readAllBytes(uki.resolve("initrd.cpio"));
        assertArrayEquals(base, Arrays.copyOf(initrd, base.length), "the UKI's .initrd comes first");
        Map<String, byte[]> files = new HashMap<>();
        try (CpioArchiveInputStream in = new CpioArchiveInputStream(
                new ByteArrayInputStream(initrd, base.length, initrd.length - base.length))) {
            CpioArchiveEntry e;
            while ((e = in.getNextCPIOEntry()) != null) {
                files.put(e.getName(), in.readAllBytes());
            }
        }
        byte[] cred = files.get(".extra/credentials/test.cred");
        assertNotNull(cred, "credential in the initrd: " + files.keySet());
        assertEquals("secret credential\n", new String(cred, StandardCharsets.UTF_8));
        assertTrue(r.measurements().stream().anyMatch(m -> m.pcr() == 12
                && new String(m.eventData(), StandardCharsets.UTF_16LE).startsWith("Credentials initrd")),
                "PCR 12 credentials event");
    }
}
