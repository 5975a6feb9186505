package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.protocol.Tcg2Protocol;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * EFI_TCG2_PROTOCOL.GetCapability called through the guest ABI with callers' Size values: EDK2's Tcg2Dxe
 * answers a 1.0 (TrEE) caller with the first 28 bytes labelled 1.0, and anything smaller with
 * BUFFER_TOO_SMALL and the size it needs.
 */
class Tcg2CapabilityTest {

    private record Answer(long status, byte[] bytes) {
    }

    private static Answer call(int size) {
        try (Platform p = Platform.create(EmulatorOptions.builder().ramSize(64L << 20).build())) {
            Firmware fw = p.firmware();
            GuestMemory m = fw.mem();
            fw.machine().cpu().setReg(Cpu.Reg.RSP, fw.machine().stackTop() - 0x1000);
            long tcg2 = fw.protocols().get(fw.protocols().handlesWith(Tcg2Protocol.GUID).get(0), Tcg2Protocol.GUID);
            long buf = fw.allocator().allocatePool(MemoryType.BootServicesData, 64);
            byte[] fill = new byte[64];
            java.util.Arrays.fill(fill, (byte) 0xAA);
            m.write(buf, fill);
            m.putU8(buf, size);
            long status = fw.images().hostCall(m.u64(tcg2), tcg2, buf); // GetCapability(This, ProtocolCapability)
            return new Answer(status, m.read(buf, 64));
        }
    }

    @Test
    void aSizeBelowThe1_0StructureIsBufferTooSmallWithTheNeededSize() {
        for (int size : new int[]{0, 11, 27}) {
            Answer a = call(size);
            assertEquals(EfiStatus.BUFFER_TOO_SMALL, a.status(), "Size " + size);
            assertEquals(36, a.bytes()[0] & 0xff, "Size is set to sizeof(EFI_TCG2_BOOT_SERVICE_CAPABILITY)");
            assertEquals((byte) 0xAA, a.bytes()[1], "nothing else is written");
        }
    }

    @Test
    void a1_0CallerGetsTheFirst28BytesLabelled1_0() {
        Answer a = call(28);
        byte[] b = a.bytes();
        assertEquals(EfiStatus.SUCCESS, a.status());
        assertEquals(28, b[0]);
        assertEquals(1, b[1]);
        assertEquals(0, b[2], "StructureVersion 1.0");
        assertEquals(1, b[3]);
        assertEquals(0, b[4], "ProtocolVersion 1.0");
        assertEquals(0x3, b[8], "HashAlgorithmBitmap SHA1|SHA256 at offset 8");
        assertEquals(1, b[16], "TPMPresentFlag at offset 16");
        assertEquals((byte) 0xAA, b[28], "nothing past the 28 bytes");
        assertEquals(EfiStatus.SUCCESS, call(35).status());
        assertEquals(28, call(35).bytes()[0]);
    }

    @Test
    void a1_1CallerGetsThe36ByteStructure() {
        Answer a = call(36);
        byte[] b = a.bytes();
        assertEquals(EfiStatus.SUCCESS, a.status());
        assertEquals(36, b[0]);
        assertEquals(1, b[2], "StructureVersion 1.1");
        assertEquals(1, b[4], "ProtocolVersion 1.1");
        assertEquals(2, b[28], "NumberOfPCRBanks");
        assertEquals(0x3, b[32], "ActivePcrBanks");
        assertEquals((byte) 0xAA, b[36]);
    }
}
