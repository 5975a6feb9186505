package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/**
 * A payload that stops making progress ends the run as stuck, with its console's last lines, instead of
 * burning the time budget (issue 13): systemd's freeze() after a failed assertion is {@code for (;;)
 * BS->Stall(60 s)}; a poll loop that never moves the clock is caught by its length. Waiting that ends (a
 * Stall of 3 s, then a return) is no halt. The payloads are tiny PE32+ images built here; the time budget of
 * each run is far longer than the detection, so a missed halt fails as "time budget exhausted".
 */
class IdleHaltTest {

    private static final long BUDGET_MILLIS = 60_000;

    /**
     * Prints {@code text} on ConOut, then calls Stall(microseconds) {@code times} times (0: forever), then
     * returns EFI_ABORTED.
     */
    private static byte[] printThenStall(String text, int microseconds, int times) {
        byte[] msg = (text + "\0").getBytes(StandardCharsets.UTF_16LE);
        int stallOff = 24 + 8 * BootService.Stall.ordinal();
        byte[] loopBody = concat(
                bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]  BootServices
                bytes(0xB9), le32(microseconds), // mov ecx, microseconds
                bytes(0xFF, 0x90), le32(stallOff)); // call [rax+Stall]
        byte[] counted = times == 0
                ? concat(loopBody, bytes(0xEB, -(loopBody.length + 2) & 0xff)) // jmp loop
                : concat(loopBody, bytes(0xFF, 0xCE), // dec esi
                        bytes(0x75, -(loopBody.length + 4) & 0xff)); // jnz loop
        byte[] tail = bytes(0x48, 0xB8, 21, 0, 0, 0, 0, 0, 0, 0x80, // mov rax, EFI_ABORTED
                0x48, 0x83, 0xC4, 0x28, 0x5E, 0x5B, 0xC3); // add rsp, 0x28; pop rsi; pop rbx; ret
        byte[] head0 = concat(bytes(0x53, 0x56), // push rbx; push rsi
                bytes(0x48, 0x83, 0xEC, 0x28), // sub rsp, 0x28
                bytes(0x48, 0x89, 0xD3), // mov rbx, rdx  SystemTable
                bytes(0xBE), le32(times), // mov esi, times
                bytes(0x48, 0x8B, 0x4A, 0x40)); // mov rcx, [rdx+0x40]  ConOut
        int afterLea = head0.length + 7;
        int callLen = 3;
        int strOff = afterLea + callLen + counted.length + tail.length;
        byte[] head = concat(head0, bytes(0x48, 0x8D, 0x15), le32(strOff - afterLea), // lea rdx, [rip+string]
                bytes(0xFF, 0x51, 0x08)); // call [rcx+8]  OutputString
        return tinyEfiApp(concat(head, counted, tail, msg));
    }

    private static byte[] le32(int v) {
        return bytes(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    }

    private static String failureOf(byte[] app) {
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(BUDGET_MILLIS).ramSize(64L << 20)
                .payloadName("stuck.efi").build();
        return assertThrows(EmulationException.class, () -> Emulator.run(app, o)).getMessage();
    }

    @Test
    void anAssertionThenStallForeverIsAHaltWithTheConsole() {
        String m = failureOf(printThenStall("Assertion 'x' failed at stub.c:42\r\n", 60_000_000, 0));
        assertTrue(m.startsWith("the payload stopped making progress: only waiting calls ("), m);
        assertTrue(m.contains("last Stall) for 600 s of virtual time"), m); // 10 × 60 s, the first call made by Stall #10
        assertTrue(m.contains("(stuck.efi+0x"), "RIP names the payload: " + m);
        assertTrue(m.endsWith("console: Assertion 'x' failed at stub.c:42"), m);
    }

    @Test
    void aPollLoopThatNeverMovesTheClockIsAHalt() {
        String m = failureOf(printThenStall("waiting\r\n", 0, 0));
        assertTrue(m.startsWith("the payload stopped making progress: only waiting calls (" + IdleWatch.IDLE_CALLS
                + " in a row, last Stall) for 0 s"), m);
    }

    @Test
    void waitingThatEndsIsNoHalt() {
        // three 3 s stalls, then the payload returns EFI_ABORTED: reported as such, not as stuck
        String m = failureOf(printThenStall("Error: something failed, waiting\r\n", 3_000_000, 3));
        assertTrue(m.startsWith("the payload returned with status ABORTED without starting a Linux kernel"), m);
    }
}
