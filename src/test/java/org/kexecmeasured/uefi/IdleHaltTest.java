package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.printThenStall;

/**
 * A payload that stops making progress ends the run as stuck, with its console's last lines, instead of
 * burning the time budget (issue 13): systemd's freeze() after a failed assertion is {@code for (;;)
 * BS->Stall(60 s)}; a poll loop that never moves the clock is caught by its length. Waiting that ends (a
 * Stall of 3 s, then a return) is no halt. The payloads are tiny PE32+ images built here; the time budget of
 * each run is far longer than the detection, so a missed halt fails as "time budget exhausted".
 */
class IdleHaltTest {

    private static final long BUDGET_MILLIS = 60_000;

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
