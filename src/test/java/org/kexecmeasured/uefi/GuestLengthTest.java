package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.imm64;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/** UINTN lengths from the payload are unsigned and checked before the host allocates a buffer for them. */
class GuestLengthTest {

    private static String statusOf(byte[] code) {
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(10_000).ramSize(64L << 20)
                .payloadName("len.efi").build();
        return assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o)).getMessage();
    }

    @Test
    void calculateCrc32WithASizeAbove2To63IsInvalidParameter() {
        byte[] code = concat(bytes(0x48, 0x83, 0xEC, 0x28), // sub rsp, 0x28
                bytes(0x48, 0x8B, 0x42, 0x60), // mov rax, [rdx+0x60]  BootServices
                bytes(0xB9, 0x00, 0x00, 0x00, 0x01), // mov ecx, 0x1000000  Data (mapped)
                bytes(0x48, 0xBA), imm64(0x800000007FFFFFFFL), // mov rdx, DataSize
                bytes(0x4C, 0x8D, 0x44, 0x24, 0x20), // lea r8, [rsp+0x20]  &Crc32
                bytes(0xFF, 0x90, 0x58, 0x01, 0x00, 0x00), // call [rax+0x158]  CalculateCrc32 (index 40)
                bytes(0x48, 0x83, 0xC4, 0x28, 0xC3)); // add rsp, 0x28; ret (its status)
        String m = statusOf(code);
        assertTrue(m.contains("the payload returned with status INVALID_PARAMETER"), m);
    }

    @Test
    void setVariableWithASizeAbove2To63IsRefused() {
        byte[] head = concat(bytes(0x48, 0x83, 0xEC, 0x38), // sub rsp, 0x38
                bytes(0x48, 0x8B, 0x42, 0x58)); // mov rax, [rdx+0x58]  RuntimeServices
        // the three RIP-relative leas point at DATA after the code; offsets filled in below
        byte[] leaRcx = bytes(0x48, 0x8D, 0x0D, 0, 0, 0, 0);
        byte[] leaRdx = bytes(0x48, 0x8D, 0x15, 0, 0, 0, 0);
        byte[] mid = concat(bytes(0x41, 0xB8, 0x07, 0, 0, 0), // mov r8d, 7  NV|BS|RT
                bytes(0x49, 0xB9), imm64(0x8000000000000100L)); // mov r9, DataSize
        byte[] leaR10 = bytes(0x4C, 0x8D, 0x15, 0, 0, 0, 0);
        byte[] tail = concat(bytes(0x4C, 0x89, 0x54, 0x24, 0x20), // mov [rsp+0x20], r10  Data
                bytes(0xFF, 0x50, 0x58), // call [rax+0x58]  SetVariable (index 8)
                bytes(0x48, 0x83, 0xC4, 0x38, 0xC3)); // add rsp, 0x38; ret
        byte[] data = concat(bytes('A', 0, 0, 0), new byte[28]); // L"A", then a GUID and data bytes
        byte[][] parts = {head, leaRcx, leaRdx, mid, leaR10, tail};
        int codeLen = 0;
        for (byte[] p : parts) codeLen += p.length;
        int at = 0;
        for (byte[] p : parts) {
            at += p.length;
            if (p == leaRcx || p == leaRdx || p == leaR10) {
                ByteBuffer.wrap(p, 3, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(codeLen - at);
            }
        }
        String m = statusOf(concat(head, leaRcx, leaRdx, mid, leaR10, tail, data));
        assertTrue(m.contains("SetVariable("), m);
        assertTrue(m.contains("the payload returned with status OUT_OF_RESOURCES"), m);
    }

    @Test
    void readingMoreThanIsMappedFailsBeforeAllocating() {
        try (UnicornCpu cpu = new UnicornCpu()) {
            cpu.map(0x1000, 0x1000);
            GuestMemory m = cpu.memory();
            // new byte[0x7fffffff] would throw OutOfMemoryError whatever the heap
            GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> m.read(0x1000, 0x7fffffff));
            assertTrue(e.getMessage().contains("0x1000"), e.getMessage());
            assertThrows(GuestMemoryException.class, () -> m.read(0x1000, 0x1001));
            assertThrows(GuestMemoryException.class, () -> m.read(0x1000, 0x8000000000000010L));
            assertTrue(m.read(0x1000, 0x1000).length == 0x1000);
        }
    }
}
