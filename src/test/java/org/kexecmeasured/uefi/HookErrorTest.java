package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.RunResult;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/**
 * A Java Error thrown on the host side of a hook (service call, CPUID) ends the run; JNA's default callback
 * handler would log and swallow it and let the payload go on with the service half done.
 */
class HookErrorTest {

    @Test
    void anErrorDuringAServiceCallEndsTheRun() {
        byte[] code = concat(bytes(0x48, 0x8B, 0x42, 0x60), // mov rax, [rdx+0x60]  BootServices
                bytes(0x31, 0xC9), // xor ecx, ecx
                bytes(0x48, 0x83, 0xEC, 0x28), // sub rsp, 0x28
                bytes(0xFF, 0x90, 0xF8, 0x00, 0x00, 0x00), // call [rax+0xF8]  Stall (index 28)
                bytes(0xEB, 0xFE)); // jmp $: reached only if the Error was swallowed
        // the live trace consumer runs inside the service-call hook: the seam to raise an Error there
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(20_000).ramSize(64L << 20)
                .payloadName("err.efi").liveTrace(t -> {
                    throw new OutOfMemoryError("injected by the test");
                }).build();
        long t0 = System.nanoTime();
        EmulationException e = assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().contains("internal error in Stall: java.lang.OutOfMemoryError: injected by the test"),
                e.getMessage());
        assertTrue(ms < 10_000, "the run went on after the Error (" + ms + " ms): " + e.getMessage());
    }

    @Test
    void anErrorInTheCpuidHookEndsTheRun() {
        try (UnicornCpu cpu = new UnicornCpu()) {
            cpu.map(0x1000, 0x1000);
            cpu.memory().write(0x1000, bytes(0x0F, 0xA2, 0xEB, 0xFE)); // cpuid; jmp $
            cpu.setCpuidHandler((leaf, sub, out) -> {
                throw new StackOverflowError("injected by the test");
            });
            RunResult r = cpu.run(0x1000, 3_000_000);
            assertEquals(RunResult.End.HOST_ERROR, r.end(), "the run ends at once, not at its timeout");
            assertInstanceOf(StackOverflowError.class, r.hostFailure());
            assertTrue(r.hostFailure().getMessage().contains("injected by the test"), r.hostFailure().getMessage());
        }
    }
}
