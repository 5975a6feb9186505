package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.imm64;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/** Tiny hostile PE32+ images end within their budget with a report naming RIP, address and calls. */
class HostilePayloadTest {

    private static EmulationException run(byte[] code, long budgetMillis, long ram) {
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(budgetMillis).ramSize(ram)
                .payloadName("hostile.efi").build();
        long t0 = System.nanoTime();
        EmulationException e = assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < budgetMillis + 3000, "ended after " + ms + " ms with a budget of " + budgetMillis);
        return e;
    }

    @Test
    void infiniteLoopEndsAtTheTimeBudget() {
        EmulationException e = run(bytes(0xEB, 0xFE), 1500, 64L << 20);
        assertTrue(e.getMessage().contains("time budget of 1500 ms exhausted"), e.getMessage());
        assertTrue(e.getMessage().contains("hostile.efi+0x1000"), e.getMessage());
        assertTrue(e.getMessage().contains("no service calls"), e.getMessage());
    }

    @Test
    void writeToUnmappedMemoryIsReportedWithTheAddress() {
        byte[] code = concat(bytes(0x48, 0xB8), imm64(0x123456789000L), // mov rax, imm64
                bytes(0xC6, 0x00, 0x01)); // mov byte [rax], 1
        EmulationException e = run(code, 5000, 64L << 20);
        assertTrue(e.getMessage().contains("write to unmapped memory at 0x123456789000"), e.getMessage());
        assertTrue(e.getMessage().contains("(start of the faulting code block) (hostile.efi+0x1000)"), e.getMessage());
    }

    @Test
    void theTrapPageIsNotWritable() {
        byte[] code = concat(bytes(0x48, 0x8B, 0x42, 0x60), // mov rax, [rdx+0x60]  BootServices
                bytes(0x48, 0x8B, 0x40, 0x18), // mov rax, [rax+0x18]  RaiseTPL's trap slot
                bytes(0xC6, 0x00, 0x90)); // mov byte [rax], 0x90
        EmulationException e = run(code, 5000, 64L << 20);
        assertTrue(e.getMessage().contains("write to protected memory at 0xffe"), e.getMessage());
    }

    @Test
    void nullPageIsUnmapped() {
        byte[] code = bytes(0x31, 0xC0, 0x8B, 0x40, 0x10); // xor eax,eax; mov eax,[rax+0x10]
        EmulationException e = run(code, 5000, 64L << 20);
        assertTrue(e.getMessage().contains("read of unmapped memory at 0x10"), e.getMessage());
    }

    @Test
    void serviceCallWithGarbagePointersIsReported() {
        byte[] code = concat(bytes(0x48, 0x8B, 0x42, 0x60), // mov rax, [rdx+0x60]  (BootServices)
                bytes(0x48, 0xBA), imm64(0xdead0000beefL), // mov rdx, garbage (Protocol GUID*)
                bytes(0x49, 0xB8), imm64(0x7ff0000000L), // mov r8, garbage (Interface**)
                bytes(0x48, 0x83, 0xEC, 0x28), // sub rsp, 0x28
                bytes(0xFF, 0x90, 0x98, 0x00, 0x00, 0x00), // call [rax+0x98]  HandleProtocol
                bytes(0xEB, 0xFE));
        EmulationException e = run(code, 5000, 64L << 20);
        assertTrue(e.getMessage().contains("HandleProtocol: bad pointer argument"), e.getMessage());
        assertTrue(e.getMessage().contains("0xdead0000beef"), e.getMessage());
    }

    @Test
    void allocatingAllMemoryFailsCleanlyAndEndsAtTheBudget() {
        byte[] loop = concat(bytes(0x31, 0xC9), // xor ecx, ecx          AllocateAnyPages
                bytes(0xBA, 0x02, 0, 0, 0), // mov edx, 2            EfiLoaderData
                bytes(0x41, 0xB8, 0x00, 0x01, 0, 0), // mov r8d, 0x100  1 MiB
                bytes(0x4C, 0x8D, 0x4C, 0x24, 0x30), // lea r9, [rsp+0x30]
                bytes(0xFF, 0x53, 0x28)); // call [rbx+0x28]   AllocatePages
        byte[] code = concat(bytes(0x48, 0x8B, 0x5A, 0x60), // mov rbx, [rdx+0x60]
                bytes(0x48, 0x83, 0xEC, 0x38), // sub rsp, 0x38
                loop, bytes(0xEB, -(loop.length + 2) & 0xff)); // jmp loop
        EmulationException e = run(code, 3000, 64L << 20);
        assertTrue(e.getMessage().contains("time budget"), e.getMessage());
        assertTrue(e.getMessage().contains("AllocatePages(0x0, 0x2, 0x100") && e.getMessage().contains("OUT_OF_RESOURCES"),
                e.getMessage());
    }

    @Test
    void fullEmulationRefusesToCaptureARangeOfTwoGiBAndMore() {
        byte[] code = concat(
                bytes(0x48, 0x81, 0xEC, 0x08, 0x11, 0x00, 0x00), // sub rsp, 0x1108
                bytes(0x48, 0x8B, 0x5A, 0x60), // mov rbx, [rdx+0x60]  BootServices
                bytes(0x49, 0x89, 0xCC), // mov r12, rcx  ImageHandle
                bytes(0x31, 0xC9, 0xBA, 0x02, 0, 0, 0), // xor ecx, ecx; mov edx, 2  AnyPages, LoaderData
                bytes(0x41, 0xB8, 0x00, 0x00, 0x09, 0x00), // mov r8d, 0x90000 pages: 2.25 GiB
                bytes(0x4C, 0x8D, 0x4C, 0x24, 0x30), // lea r9, [rsp+0x30]
                bytes(0xFF, 0x53, 0x28), // call [rbx+0x28]  AllocatePages
                bytes(0x48, 0xC7, 0x44, 0x24, 0x38, 0x00, 0x0F, 0, 0), // mov qword [rsp+0x38], 0xF00
                bytes(0x48, 0x8D, 0x4C, 0x24, 0x38), // lea rcx, [rsp+0x38]  &MapSize
                bytes(0x48, 0x8D, 0x94, 0x24, 0x00, 0x01, 0, 0), // lea rdx, [rsp+0x100]  Map
                bytes(0x4C, 0x8D, 0x44, 0x24, 0x40), // lea r8, [rsp+0x40]  &MapKey
                bytes(0x4C, 0x8D, 0x4C, 0x24, 0x48), // lea r9, [rsp+0x48]  &DescriptorSize
                bytes(0x48, 0x8D, 0x44, 0x24, 0x50, 0x48, 0x89, 0x44, 0x24, 0x20), // &DescriptorVersion as arg 5
                bytes(0xFF, 0x53, 0x38), // call [rbx+0x38]  GetMemoryMap
                bytes(0x4C, 0x89, 0xE1, 0x48, 0x8B, 0x54, 0x24, 0x40), // mov rcx, r12; mov rdx, [rsp+0x40]
                bytes(0xFF, 0x93, 0xE8, 0x00, 0x00, 0x00), // call [rbx+0xE8]  ExitBootServices
                bytes(0xB8, 0x00, 0x00, 0x10, 0x00, 0xFF, 0xE0)); // mov eax, 0x100000; jmp rax  (the "kernel")
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(20_000).ramSize(3L << 30).fullEmulation(true)
                .payloadName("big.efi").build();
        EmulationException e = assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o));
        assertTrue(e.getMessage().contains("capturing the post-ExitBootServices state: LoaderData range"), e.getMessage());
        assertTrue(e.getMessage().contains("(2415919104 bytes) is too large to capture"), e.getMessage());
    }
}
