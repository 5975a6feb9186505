package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.uefi.spi.MemoryType;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tables a payload finds in memory, and the ESP's containment. */
class FirmwareTablesTest {

    @TempDir
    Path dir;

    private static Platform platform() {
        return Platform.create(EmulatorOptions.builder().ramSize(64L << 20).build());
    }

    private static void assertHeader(GuestMemory m, long table, String signature, int size) {
        assertEquals(signature, new String(m.read(table, 8), StandardCharsets.US_ASCII));
        assertEquals((2 << 16) | 70, m.u32(table + 8), "revision 2.70");
        assertEquals(size, m.u32(table + 12), "HeaderSize");
        byte[] t = m.read(table, size);
        long crc = m.u32(table + 16);
        t[16] = t[17] = t[18] = t[19] = 0;
        CRC32 c = new CRC32();
        c.update(t);
        assertEquals(c.getValue(), crc, signature + " CRC32 over HeaderSize bytes with the field zeroed");
    }

    @Test
    void systemBootAndRuntimeTablesHaveSignaturesAndCrcs() {
        try (Platform p = platform()) {
            Firmware fw = p.firmware();
            GuestMemory m = fw.mem();
            long st = fw.systemTable();
            assertHeader(m, st, "IBI SYST", 120);
            assertHeader(m, m.u64(st + 96), "BOOTSERV", 24 + 44 * 8);
            assertHeader(m, m.u64(st + 88), "RUNTSERV", 24 + 14 * 8);
            long bs = m.u64(st + 96);
            for (int i = 0; i < 44; i++) {
                long fn = m.u64(bs + 24 + 8L * i);
                assertTrue(fw.machine().isTrap(fn), "boot service " + i + " points into the trap page");
                assertEquals(0xC3, m.u8(fn), "each slot holds ret");
            }
            assertEquals("kexec-measured", m.utf16z(m.u64(st + 24), 64));
        }
    }

    /**
     * Offsets of function pointers in EFI_BOOT_SERVICES / EFI_RUNTIME_SERVICES as the UEFI 2.10 headers lay them
     * out (EDK2 MdePkg/Include/Uefi/UefiSpec.h): each slot of the guest's table is the trap slot of the service
     * of that name.
     */
    @Test
    void serviceTablesHaveTheSpecsOffsets() {
        Object[][] boot = {{"RaiseTPL", 0x18}, {"AllocatePages", 0x28}, {"GetMemoryMap", 0x38}, {"FreePool", 0x48},
            {"CheckEvent", 0x78}, {"HandleProtocol", 0x98}, {"Reserved", 0xA0}, {"LocateDevicePath", 0xB8},
            {"LoadImage", 0xC8}, {"StartImage", 0xD0}, {"Exit", 0xD8}, {"ExitBootServices", 0xE8}, {"Stall", 0xF8},
            {"OpenProtocol", 0x118}, {"LocateProtocol", 0x140}, {"CalculateCrc32", 0x158}, {"CopyMem", 0x160},
            {"SetMem", 0x168}, {"CreateEventEx", 0x170}};
        Object[][] runtime = {{"GetTime", 0x18}, {"SetVirtualAddressMap", 0x38}, {"GetVariable", 0x48},
            {"SetVariable", 0x58}, {"ResetSystem", 0x68}, {"QueryVariableInfo", 0x80}};
        try (Platform p = platform()) {
            Firmware fw = p.firmware();
            GuestMemory m = fw.mem();
            long bs = m.u64(fw.systemTable() + 96);
            long rt = m.u64(fw.systemTable() + 88);
            for (Object[] e : boot) {
                assertEquals((int) e[1], BootService.valueOf((String) e[0]).offset(), (String) e[0]);
                assertEquals(e[0], fw.machine().slotName(m.u64(bs + (int) e[1])), "BootServices+0x"
                        + Integer.toHexString((int) e[1]));
            }
            for (Object[] e : runtime) {
                assertEquals((int) e[1], RuntimeService.valueOf((String) e[0]).offset(), (String) e[0]);
                assertEquals(e[0], fw.machine().slotName(m.u64(rt + (int) e[1])), "RuntimeServices+0x"
                        + Integer.toHexString((int) e[1]));
            }
        }
    }

    @Test
    void espLookupIsCaseInsensitiveAndCannotLeaveTheDirectory() throws Exception {
        Path esp = Files.createDirectories(dir.resolve("esp"));
        Files.createDirectories(esp.resolve("EFI/BOOT"));
        Files.writeString(esp.resolve("EFI/BOOT/BOOTX64.EFI"), "boot");
        Files.writeString(dir.resolve("secret"), "outside");
        Files.createSymbolicLink(esp.resolve("link"), dir.resolve("secret"));
        Files.createSymbolicLink(esp.resolve("dirlink"), dir);
        try (Platform p = platform()) {
            SimpleFileSystemProtocol fs = new SimpleFileSystemProtocol(p.firmware().protocolContext(), esp);
            long max = ImageServices.MAX_IMAGE;
            assertArrayEquals("boot".getBytes(), fs.readFile("\\efi\\boot\\bootx64.efi", max));
            assertArrayEquals("boot".getBytes(), fs.readFile("\\EFI\\.\\BOOT\\..\\BOOT\\BOOTX64.EFI", max));
            assertNull(fs.readFile("\\..\\secret", max));
            assertNull(fs.readFile("\\..\\..\\..\\..\\" + dir.resolve("secret"), max));
            assertNull(fs.readFile("\\link", max), "symlinks are not followed");
            assertNull(fs.readFile("\\dirlink\\secret", max));
            assertNull(fs.readFile("\\EFI/../../secret", max), "'/' is no separator");
            assertNull(fs.readFile("\\EFI", max), "directories are not files");
        }
    }

    @Test
    void anEspFileLargerThanAnImageIsRefusedBeforeReading() throws Exception {
        Path esp = Files.createDirectories(dir.resolve("esp-big"));
        long big = ImageServices.MAX_IMAGE + 4096;
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(esp.resolve("big.efi").toFile(), "rw")) {
            f.setLength(big); // sparse: no disk space used
        }
        Files.writeString(esp.resolve("small.efi"), "0123456789");
        try (Platform p = platform()) {
            SimpleFileSystemProtocol fs = new SimpleFileSystemProtocol(p.firmware().protocolContext(), esp);
            org.kexecmeasured.util.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
                    org.kexecmeasured.util.BadInputException.class, () -> fs.readFile("\\BIG.EFI", ImageServices.MAX_IMAGE));
            assertTrue(e.getMessage().contains(big + " bytes"), e.getMessage());
            assertArrayEquals("0123456789".getBytes(), fs.readFile("\\small.efi", 10));
            org.junit.jupiter.api.Assertions.assertThrows(org.kexecmeasured.util.BadInputException.class,
                    () -> fs.readFile("\\small.efi", 9));
        }
    }

    @Test
    void ramLayoutWithAHoleIsMappedAndDescribed() {
        var layout = java.util.List.of(new RamRange(0, 0x9f000), new RamRange(0x100000, 256L << 20));
        try (Platform p = Platform.create(EmulatorOptions.builder().ram(layout).build())) {
            Firmware fw = p.firmware();
            var regions = fw.memoryMap().regions();
            assertEquals(4, regions.size(), regions.toString());
            assertEquals(MemoryType.ReservedMemoryType, regions.get(0).type());
            assertEquals(0x9f000, regions.get(1).end());
            assertEquals(0x100000, regions.get(2).start());
            assertEquals(MemoryType.BootServicesData, regions.get(3).type());
            assertEquals(256L << 20, regions.get(3).end());
            fw.mem().putU8(0x9e000, 1);
            org.junit.jupiter.api.Assertions.assertThrows(GuestMemoryException.class, () -> fw.mem().putU8(0xa0000, 1),
                    "the hole is not RAM");
            long a = fw.memoryMap().allocate(MemoryMap.AllocateType.MaxAddress, MemoryType.LoaderData, 0x80, 0xfffff);
            assertEquals(0x9f000 - 0x80000, a, "MaxAddress below the hole lands in the low range");
        }
    }

    @Test
    void variablesSeededAndBounded() {
        try (Platform p = platform()) {
            VariableStore v = p.firmware().runtime().variables();
            assertArrayEquals(new byte[]{0}, v.get("SecureBoot", VariableStore.EFI_GLOBAL_VARIABLE).data());
            assertTrue(v.set("X", VariableStore.EFI_GLOBAL_VARIABLE, 7, new byte[100]));
            assertTrue(!v.set("Big", VariableStore.EFI_GLOBAL_VARIABLE, 7, new byte[VariableStore.MAX_VARIABLE_SIZE + 1]));
            assertTrue(v.set("X", VariableStore.EFI_GLOBAL_VARIABLE, 7, new byte[0]));
            assertNull(v.get("X", VariableStore.EFI_GLOBAL_VARIABLE), "empty data deletes");
        }
    }
}
