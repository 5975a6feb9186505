package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.util.BadInputException;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.imm64;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/**
 * A run ends with a report of what really happened (issue 10 item 9): a halt is no exhausted time budget, a
 * guest length is an unsigned UINTN, and the time budget is validated and saturates instead of overflowing.
 * Each payload is a tiny PE32+ built here; the expected values come from the x86 and UEFI specifications.
 */
class RunEndReportTest {

    private static String failureOf(byte[] code, long budgetMillis) {
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(budgetMillis).ramSize(64L << 20)
                .payloadName("probe.efi").build();
        return assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o)).getMessage();
    }

    /** {@code sub rsp, 0x28; mov rax, [rdx+0x60]}: a frame for calls and EFI_BOOT_SERVICES in RAX. */
    private static final byte[] PROLOGUE = bytes(0x48, 0x83, 0xEC, 0x28, 0x48, 0x8B, 0x42, 0x60);
    /** {@code add rsp, 0x28; ret}: returns RAX (the last service's status) as the image's exit status. */
    private static final byte[] EPILOGUE = bytes(0x48, 0x83, 0xC4, 0x28, 0xC3);

    /** {@code call [rax + 24 + 8 * index]}: a boot service by its index in EFI_BOOT_SERVICES. */
    private static byte[] callBootService(int index) {
        int off = 24 + 8 * index;
        return bytes(0xFF, 0x90, off & 0xff, off >> 8, 0, 0);
    }

    private static final int COPY_MEM = 41;
    private static final int SET_MEM = 42;

    @Test
    void hltIsReportedAsAHaltWithRipAndTheLastConsoleLines() {
        byte[] msg = "the end is near\r\n\0".getBytes(StandardCharsets.UTF_16LE);
        byte[] code = concat(bytes(0x48, 0x83, 0xEC, 0x28), // 0x00 sub rsp, 0x28
                bytes(0x48, 0x8B, 0x4A, 0x40), // 0x04 mov rcx, [rdx+0x40]  ConOut
                bytes(0x48, 0x8D, 0x15, 6, 0, 0, 0), // 0x08 lea rdx, [rip+6]  the string after jmp $
                bytes(0xFF, 0x51, 0x08), // 0x0F call [rcx+8]  OutputString
                bytes(0xF4), // 0x12 hlt
                bytes(0xEB, 0xFE), // 0x13 jmp $
                msg);
        String m = failureOf(code, 60_000);
        // the hlt at RVA 0x1000 + 0x12; its one service call; the console's last line
        assertTrue(m.matches("the payload halted the CPU \\(hlt\\); RIP=0x[0-9a-f]+ \\(probe\\.efi\\+0x1012\\); "
                + "last service calls: #0 ConOut\\.OutputString\\(.*\\) = SUCCESS from 0x[0-9a-f]+; "
                + "console: the end is near"), m);
    }

    @Test
    void copyMemWithALengthOf2To63AndMoreIsAGuestError() {
        byte[] code = concat(PROLOGUE, bytes(0xB9, 0, 0, 0x10, 0), // mov ecx, 0x100000  Destination
                bytes(0xBA, 0, 0, 0x20, 0), // mov edx, 0x200000  Source
                bytes(0x49, 0xB8), imm64(0x8000000000000010L), // mov r8, Length
                callBootService(COPY_MEM), EPILOGUE);
        String m = failureOf(code, 10_000);
        assertTrue(m.startsWith("CopyMem: Length 0x8000000000000010 from 0x200000 to 0x100000 is not within guest RAM;"
                + " RIP=0xffe"), m);
    }

    @Test
    void copyMemPastTheEndOfRamIsAGuestError() {
        byte[] code = concat(PROLOGUE, bytes(0xB9, 0, 0, 0x10, 0), // mov ecx, 0x100000
                bytes(0xBA, 0, 0, 0x20, 0), // mov edx, 0x200000
                bytes(0x41, 0xB8, 0, 0, 0, 0x10), // mov r8d, 0x10000000: 256 MiB, RAM is 64 MiB
                callBootService(COPY_MEM), EPILOGUE);
        String m = failureOf(code, 10_000);
        assertTrue(m.startsWith("CopyMem: Length 0x10000000 from 0x200000 to 0x100000 is not within guest RAM;"), m);
    }

    @Test
    void setMemWithALengthOf2To63AndMoreIsAGuestError() {
        byte[] code = concat(PROLOGUE, bytes(0xB9, 0, 0, 0x10, 0), // mov ecx, 0x100000  Buffer
                bytes(0x48, 0xBA), imm64(0xFFFFFFFFFFFFFFF0L), // mov rdx, Size
                bytes(0x41, 0xB8, 0x41, 0, 0, 0), // mov r8d, 0x41  Value
                callBootService(SET_MEM), EPILOGUE);
        String m = failureOf(code, 10_000);
        assertTrue(m.startsWith("SetMem: Size 0xfffffffffffffff0 at 0x100000 is not within guest RAM; RIP=0xffe"), m);
    }

    @Test
    void setMemThenOverlappingCopyMemMoveBytesAsMemmove() {
        // SetMem(0x100000, 8, 0x41); SetMem(0x100008, 8, 0x42); CopyMem(0x100004, 0x100000, 12)
        // memmove semantics: the 12 source bytes 41×8 42×4 land at 0x100004, so the qword at 0x100008 holds
        // 41 41 41 41 42 42 42 42 = 0x4242424241414141 (a forward byte copy would give 0x4141414141414141);
        // it is returned as the image's exit status
        byte[] code = concat(PROLOGUE, bytes(0x48, 0x89, 0xC3), // mov rbx, rax
                bytes(0xB9, 0, 0, 0x10, 0, 0xBA, 8, 0, 0, 0, 0x41, 0xB8, 0x41, 0, 0, 0), // rcx, rdx=8, r8d=0x41
                bytes(0xFF, 0x93, 0x68, 0x01, 0, 0), // call [rbx+0x168]  SetMem
                bytes(0xB9, 8, 0, 0x10, 0, 0xBA, 8, 0, 0, 0, 0x41, 0xB8, 0x42, 0, 0, 0),
                bytes(0xFF, 0x93, 0x68, 0x01, 0, 0), // SetMem
                bytes(0xB9, 4, 0, 0x10, 0, 0xBA, 0, 0, 0x10, 0, 0x41, 0xB8, 12, 0, 0, 0), // rcx, rdx, r8d=12
                bytes(0xFF, 0x93, 0x60, 0x01, 0, 0), // call [rbx+0x160]  CopyMem
                bytes(0x48, 0x8B, 0x04, 0x25, 8, 0, 0x10, 0), // mov rax, [0x100008]
                EPILOGUE);
        String m = failureOf(code, 10_000);
        assertTrue(m.contains("returned with status " + EfiStatus.name(0x4242424241414141L)), m);
    }

    @Test
    void aCallThroughANullFunctionPointerIsAPageFaultNotAHalt() {
        // Unicorn imitates hlt at its "until" address, which is 0 here: the unmapped page 0 must fault first
        String m = failureOf(bytes(0x31, 0xC0, 0xFF, 0xD0), 10_000); // xor eax, eax; call rax
        assertTrue(m.startsWith("CPU exception/interrupt 14 (#PF page fault); RIP=0x0;"), m);
    }

    @Test
    void aZeroOrNegativeTimeBudgetIsRefusedWhenTheOptionsAreBuilt() {
        for (long v : new long[]{0, -1, Long.MIN_VALUE}) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> EmulatorOptions.builder().timeBudgetMillis(v));
            assertEquals("time budget must be positive, not " + v + " ms", e.getMessage());
        }
        BadInputException e = assertThrows(BadInputException.class,
                () -> EmulatorOptions.builder().timeBudget(Duration.ofSeconds(-5)));
        assertEquals("time budget must be positive, not -5000 ms", e.getMessage());
        assertThrows(BadInputException.class, () -> EmulatorOptions.builder().timeBudget(Duration.ZERO));
    }

    @Test
    void aHugeTimeBudgetSaturatesInsteadOfOverflowing() {
        byte[] ret = concat(bytes(0x48, 0xB8), imm64(0x8000000000000005L), bytes(0xC3)); // return BUFFER_TOO_SMALL
        for (long v : new long[]{Long.MAX_VALUE, Long.MAX_VALUE / 1000, 9_223_372_036_855L}) {
            String m = failureOf(ret, v);
            assertTrue(m.contains("the payload returned with status BUFFER_TOO_SMALL"), v + " ms: " + m);
        }
        EmulatorOptions o = EmulatorOptions.builder().timeBudget(Duration.ofSeconds(Long.MAX_VALUE)).ramSize(64L << 20)
                .build();
        String m = assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(ret), o)).getMessage();
        assertTrue(m.contains("the payload returned with status BUFFER_TOO_SMALL"), m);
    }
}
