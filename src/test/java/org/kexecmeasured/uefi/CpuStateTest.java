package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/**
 * What guest code reads from the emulated CPU (uefi-subset §1 and §6): each payload turns a value into the
 * address of a faulting store, and the fault report carries it out.
 */
class CpuStateTest {

    private static String faultOf(byte[] code) {
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(5000).ramSize(64L << 20).payloadName("probe.efi").build();
        return assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o)).getMessage();
    }

    private static final byte[] STORE_RAX = bytes(0xC6, 0x00, 0x01); // mov byte [rax], 1

    @Test
    void cpuidLeaf1ReportsFpuTscPaeMsrPgeApic() {
        // mov eax,1; cpuid; mov eax,edx; shl rax,16; store
        String m = faultOf(concat(bytes(0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0x89, 0xD0, 0x48, 0xC1, 0xE0, 0x10), STORE_RAX));
        assertTrue(m.contains("write to unmapped memory at 0x78bfbff0000"), m);
    }

    @Test
    void cpuidLeaf0ReportsGenuineIntel() {
        // xor eax,eax; cpuid; mov eax,ebx; shl rax,16; store  ("Genu" = 0x756e6547)
        String m = faultOf(concat(bytes(0x31, 0xC0, 0x0F, 0xA2, 0x89, 0xD8, 0x48, 0xC1, 0xE0, 0x10), STORE_RAX));
        assertTrue(m.contains("at 0x756e65470000"), m);
    }

    @Test
    void cr0IsPagingProtectedModeWithWriteProtect() {
        String m = faultOf(concat(bytes(0x0F, 0x20, 0xC0), STORE_RAX)); // mov rax, cr0
        assertTrue(m.contains("at 0x80010033"), m);
    }

    @Test
    void cr4IsPaeOsfxsrOsxmmexcpt() {
        String m = faultOf(concat(bytes(0x0F, 0x20, 0xE0), STORE_RAX)); // mov rax, cr4
        assertTrue(m.contains("at 0x620"), m);
    }

    @Test
    void eferHasLongModeEnabledAndActive() {
        // mov ecx, 0xC0000080; rdmsr; mov eax, eax; store
        String m = faultOf(concat(bytes(0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32, 0x89, 0xC0), STORE_RAX));
        // LME | LMA; NXE (0x800) cannot be set through Unicorn 2.0.1's MSR write
        assertTrue(m.contains("at 0x500"), m);
    }
}
