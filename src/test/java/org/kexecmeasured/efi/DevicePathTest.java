package org.kexecmeasured.efi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Hex;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DevicePathTest {
    @Test
    void guidMixedEndianRoundTrip() {
        Guid g = Guid.parse("5568e427-68fc-4f3d-ac74-ca555231cc68");
        // Data1..3 little-endian, Data4 as is (UEFI spec appendix A)
        assertEquals("27e46855fc683d4fac74ca555231cc68", Hex.of(g.toBytes()));
        assertEquals(g, Guid.read(g.toBytes(), 0));
        assertEquals("5568e427-68fc-4f3d-ac74-ca555231cc68", g.toString());
    }

    @Test
    void systemdStubKernelVenMediaMatchesMeasuredBytes() {
        // uefi-subset.md: the stub's inner-kernel device path starts 04 03 14 00 f8 d1 c5 55
        DevicePath dp = DevicePath.of(java.util.List.of(
                DevicePath.vendorMedia(Guid.parse("55c5d1f8-04cd-46b5-8a20-e56cbb3052d0"))));
        byte[] b = dp.toBytes();
        assertEquals("04031400f8d1c555", Hex.of(b, 0, 8));
        assertEquals("7fff0400", Hex.of(b, b.length - 4, 4));
        assertEquals("VenMedia(55c5d1f8-04cd-46b5-8a20-e56cbb3052d0)", DevicePath.parse(b).toText());
    }

    @Test
    void hardDriveAndFileText() {
        Guid part = Guid.parse("0e1b2a3c-1111-2222-3333-444455556666");
        DevicePath dp = DevicePath.of(java.util.List.of(
                DevicePath.hardDriveGpt(1, 2048, 0x100000, part),
                DevicePath.filePath("\\EFI\\Linux\\debian-uki.efi")));
        byte[] b = dp.toBytes();
        DevicePath back = DevicePath.parse(b);
        assertEquals("HD(1,GPT," + part + ",0x800,0x100000)/\\EFI\\Linux\\debian-uki.efi", back.toText());
        assertArrayEquals(b, back.toBytes());
        assertEquals("\\EFI\\Linux\\debian-uki.efi", back.filePathText());
    }

    @Test
    void pciRootPciAndMemoryMappedAsTheSpecEncodesThem() {
        // UEFI 2.10 §10.3.3 ACPI node (HID EISA "PNP0A03" = 0x0A0341D0) and §10.3.2.1 PCI node (Function, Device);
        // §10.3.2.3 Memory Mapped node (MemoryType, Start, End) as EDK2's DevicePathToText prints them
        DevicePath dp = DevicePath.of(java.util.List.of(DevicePath.pciRoot(0), DevicePath.pci(3, 0)));
        byte[] b = dp.toBytes();
        assertEquals("02010c00d041030a00000000" + "0101060000037fff0400", Hex.of(b));
        assertEquals("PciRoot(0x0)/Pci(0x3,0x0)", DevicePath.parse(b).toText());
        byte[] mm = Hex.parse("01031800" + "02000000" + "0010823e00000000" + "bfe7ff3e00000000" + "7fff0400");
        assertEquals("MemoryMapped(0x2,0x3e821000,0x3effe7bf)", DevicePath.parse(mm).toText());
    }

    @Test
    void hostileNodeLengthsAreRejected() {
        assertThrows(BadInputException.class, () -> DevicePath.parse(new byte[]{4, 4, 2, 0}));
        assertThrows(BadInputException.class, () -> DevicePath.parse(new byte[]{4, 4, (byte) 0xff, 0x7f, 0}));
        assertThrows(BadInputException.class, () -> DevicePath.parse(new byte[]{4, 4}));
    }
}
