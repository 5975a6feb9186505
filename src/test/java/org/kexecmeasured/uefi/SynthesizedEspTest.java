package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.spi.HostFileSystem;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/**
 * Without an ESP the payload still comes from a device, as real firmware starts it (issue 13: systemd-stub 254
 * asserts a DeviceHandle): an ESP synthesized to hold it at \EFI\Linux\<name>, on a partition handle whose
 * device path is PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,…). Expected texts follow UEFI 2.10 §10.6 (device path
 * text) for the nodes the spec defines.
 */
class SynthesizedEspTest {

    private static final byte[] RET0 = bytes(0x31, 0xC0, 0xC3); // xor eax, eax; ret

    @Test
    void theFirstImageIsMeasuredWithItsDevicesPathAndFile() {
        List<byte[]> paths = new ArrayList<>();
        Measurer m = new Measurer() {
            @Override
            public void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
            }

            @Override
            public void imageLoaded(java.nio.ByteBuffer file, long address, long size, long linkTimeAddress, byte[] devicePath,
                                    boolean firstImage) {
                paths.add(devicePath);
            }
        };
        EmulatorOptions o = EmulatorOptions.builder().ramSize(64L << 20).measurer(m).payloadName("Probe App.efi").build();
        // the payload returns at once: no kernel, so the run fails, but the image was loaded from the device
        assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(RET0), o));
        assertEquals(1, paths.size());
        assertEquals("PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT," + SimpleFileSystemProtocol.PARTITION_GUID
                + ",0x800,0x100000)/\\EFI\\Linux\\Probe_App.efi", DevicePath.parse(paths.get(0)).toText());
    }

    @Test
    void theSynthesizedEspHoldsThePayload() {
        byte[] payload = tinyEfiApp(RET0);
        try (Platform p = Platform.create(EmulatorOptions.builder().ramSize(64L << 20).payloadName("x").build())) {
            Platform.BootDevice d = p.bootDevice(payload);
            assertEquals("\\EFI\\Linux\\x.efi", d.filePath());
            assertEquals(d, p.bootDevice(payload), "one ESP per platform");
            Long sfs = p.firmware().protocols().get(d.handle(), SimpleFileSystemProtocol.GUID);
            assertTrue(sfs != null && sfs != 0, "the device handle carries a SimpleFileSystem");
            // LoadImage reads files of the device through the same tree; case-insensitive as FAT
            HostFileSystem fs = p.firmware().images().fileSystem(d.handle());
            assertArrayEquals(payload, fs.readFile("\\efi\\linux\\X.EFI", 1 << 20));
        }
    }

    @Test
    void fileNamesAreOneSafeComponent() {
        assertEquals("uki.efi", SynthesizedEsp.fileName("/some/dir/uki.efi"));
        assertEquals("a_b.efi", SynthesizedEsp.fileName("..\\a b"));
        assertEquals("payload.efi", SynthesizedEsp.fileName(".."));
        assertEquals("vmlinuz.EFI", SynthesizedEsp.fileName("vmlinuz.EFI"));
    }
}
