package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;

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
}
