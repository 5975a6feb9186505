package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.protocol.LoadedImageProtocol;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.imm64;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/** An image that returns or calls Exit unwinds to the firmware, which reports its status. */
class ImageLifecycleTest {

    private static String run(byte[] code) {
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(5000).ramSize(64L << 20).payloadName("app.efi").build();
        return assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o)).getMessage();
    }

    @Test
    void returnFromEntryPointEndsTheRunWithItsStatus() {
        String m = run(concat(bytes(0x48, 0xB8), imm64(0x8000000000000005L), bytes(0xC3))); // mov rax, imm; ret
        assertTrue(m.contains("the payload returned with status BUFFER_TOO_SMALL without starting a Linux kernel"), m);
    }

    @Test
    void exitUnwindsFromInsideACallChain() {
        byte[] code = concat(
                bytes(0x48, 0x83, 0xEC, 0x48), // sub rsp, 0x48: a frame of its own
                bytes(0x48, 0x8B, 0x42, 0x60), // mov rax, [rdx+0x60]  BootServices
                bytes(0x48, 0xBA), imm64(0x8000000000000003L), // mov rdx, EFI_UNSUPPORTED
                bytes(0x45, 0x31, 0xC0, 0x45, 0x31, 0xC9), // xor r8d,r8d; xor r9d,r9d
                bytes(0xFF, 0x90, 0xD8, 0x00, 0x00, 0x00), // call [rax+0xD8]  Exit (index 24)
                bytes(0xEB, 0xFE)); // never reached: Exit does not return
        String m = run(code);
        assertTrue(m.contains("returned with status UNSUPPORTED"), m);
        assertTrue(m.contains("Exit(0x"), "Exit is in the call report: " + m);
    }

    @Test
    void startImageOfAnUnknownHandleIsInvalidParameter() {
        byte[] code = concat(
                bytes(0x48, 0x83, 0xEC, 0x28),
                bytes(0x48, 0x8B, 0x42, 0x60), // mov rax, [rdx+0x60]
                bytes(0x48, 0xB9), imm64(0x1234), // mov rcx, bogus handle
                bytes(0x31, 0xD2, 0x45, 0x31, 0xC0), // xor edx,edx; xor r8d,r8d
                bytes(0xFF, 0x90, 0xD0, 0x00, 0x00, 0x00), // call [rax+0xD0]  StartImage (index 23)
                bytes(0x48, 0x83, 0xC4, 0x28, 0xC3)); // add rsp,0x28; ret (returns StartImage's status)
        String m = run(code);
        assertTrue(m.contains("returned with status INVALID_PARAMETER"), m);
    }

    private static final byte[] RET0 = bytes(0x31, 0xC0, 0xC3); // xor eax, eax; ret

    @Test
    void anImageAuthenticodeCannotHashIsRejectedAndNothingStaysLoaded() {
        // PeFile.parse accepts it (the certificate table is Authenticode's business); hashing it fails:
        // the security directory claims 0x1000 bytes but only 16 bytes follow the sections
        byte[] pe = concat(tinyEfiApp(RET0), new byte[16]);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(pe).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.putInt(0x58 + 112 + 4 * 8, pe.length - 16); // DataDirectory[SECURITY].VirtualAddress (file offset)
        bb.putInt(0x58 + 112 + 4 * 8 + 4, 0x1000); // .Size
        org.kexecmeasured.payload.pe.PeFile.parse(pe);
        try (Platform p = Platform.create(EmulatorOptions.builder().ramSize(64L << 20).build())) {
            Firmware fw = p.firmware();
            long free = fw.memoryMap().freeBytes();
            org.kexecmeasured.util.BadInputException e = assertThrows(org.kexecmeasured.util.BadInputException.class,
                    () -> fw.images().load(pe, "unhashable.efi", 0, 0, null));
            assertTrue(e.getMessage().contains("certificate table"), e.getMessage());
            assertTrue(fw.images().all().isEmpty(), "no image is left loaded");
            org.junit.jupiter.api.Assertions.assertEquals(free, fw.memoryMap().freeBytes(), "its pages are freed");
        }
    }

    @Test
    void aFailingMeasurementLeavesNoImageBehind() {
        Measurer failing = new Measurer() {
            @Override
            public void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
            }

            @Override
            public void imageLoaded(java.nio.ByteBuffer file, long address, long size, long linkTimeAddress, byte[] devicePath,
                                    boolean firstImage) {
                throw new org.kexecmeasured.util.BadInputException("cannot measure this image");
            }
        };
        try (Platform p = Platform.create(EmulatorOptions.builder().ramSize(64L << 20).measurer(failing).build())) {
            Firmware fw = p.firmware();
            long free = fw.memoryMap().freeBytes();
            int handles = fw.protocols().handlesWith(LoadedImageProtocol.GUID).size();
            assertThrows(org.kexecmeasured.util.BadInputException.class,
                    () -> fw.images().load(tinyEfiApp(RET0), "unmeasured.efi", 0, 0, null));
            assertTrue(fw.images().all().isEmpty(), "no startable image without its PCR 4 record");
            org.junit.jupiter.api.Assertions.assertEquals(handles, fw.protocols().handlesWith(LoadedImageProtocol.GUID).size());
            org.junit.jupiter.api.Assertions.assertEquals(free, fw.memoryMap().freeBytes(), "its pages are freed");
        }
    }
}
