package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.RunResult;
import org.kexecmeasured.uefi.unicorn.EngineLibrary;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.imm64;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/**
 * Issue 10 item 1: payloads that make the engine translate without end are stopped by the translation
 * guard with a message naming what they do, long before the time budget, and never take the JVM down.
 * Unicorn 2.0.1 as Debian ships it died with SIGSEGV on both payloads after 15-60 s (native/unicorn/README.md).
 */
class EngineBoundsTest {

    /** The 14 bytes of issue 10: lea rax,[rip+3]; inc byte [rax+1]; mov al,0; jmp back — it bumps its own immediate. */
    static final byte[] SELF_MODIFYING_LOOP = bytes(0x48, 0x8d, 0x05, 0x03, 0x00, 0x00, 0x00, 0xfe, 0x40, 0x01,
            0xb0, 0x00, 0xeb, 0xf2);
    /** mov rax, 32 MiB (free, zeroed RAM of a 64 MiB machine); jmp rax. */
    static final byte[] JUMP_INTO_ZEROED_RAM = concat(bytes(0x48, 0xB8), imm64(0x200_0000L), bytes(0xFF, 0xE0));
    static final long BUDGET_MILLIS = 120_000;

    private static EmulationException run(byte[] code) {
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(BUDGET_MILLIS).ramSize(64L << 20)
                .payloadName("hostile.efi").build();
        return assertThrows(EmulationException.class, () -> Emulator.run(tinyEfiApp(code), o));
    }

    @Test
    void aSelfModifyingLoopIsStoppedAndNamed() {
        EmulationException e = run(SELF_MODIFYING_LOOP);
        assertTrue(e.getMessage().matches("(?s).*the payload rewrote its own code \\d+ times in \\d+ ms "
                + "\\(self-modifying loop at RIP 0x[0-9a-f]+\\).*"), e.getMessage());
        assertFalse(e.getMessage().contains("time budget"), e.getMessage());
    }

    @Test
    void aJumpIntoZeroedRamIsStoppedAndNamed() {
        EmulationException e = run(JUMP_INTO_ZEROED_RAM);
        assertTrue(e.getMessage().contains("executing zeroed memory at RIP 0x2000000"), e.getMessage());
    }

    @Test
    void codeWrittenByTheHostReplacesCodeThatAlreadyRan() {
        // run a block, overwrite it through GuestMemory (as LoadImage over freed pages would), run it again:
        // without dropping the translated block the engine would execute the old bytes
        try (UnicornCpuHarness m = new UnicornCpuHarness()) {
            long code = 0x10_0000;
            m.mem().write(code, bytes(0xB8, 0x11, 0x00, 0x00, 0x00, 0xF4)); // mov eax, 0x11; hlt
            assertEquals(0x11, m.runUntilHlt(code));
            m.mem().write(code, bytes(0xB8, 0x22, 0x00, 0x00, 0x00, 0xF4)); // mov eax, 0x22; hlt
            assertEquals(0x22, m.runUntilHlt(code));
        }
    }

    /** A bare engine with 16 MiB of RAM from 0x1000: enough to run a few instructions. */
    private static final class UnicornCpuHarness implements AutoCloseable {
        private final UnicornCpu cpu = new UnicornCpu();

        UnicornCpuHarness() {
            cpu.map(0x1000, 16L << 20);
        }

        GuestMemory mem() {
            return cpu.memory();
        }

        /** Runs from {@code rip} to a hlt; returns RAX. */
        long runUntilHlt(long rip) {
            RunResult r = cpu.run(rip, 10_000_000);
            assertEquals(RunResult.End.HALTED, r.end(), String.valueOf(r));
            return cpu.reg(Cpu.Reg.RAX);
        }

        @Override
        public void close() {
            cpu.close();
        }
    }

    /**
     * The CLI in a child JVM, once on each engine (the native/unicorn build and Debian's libunicorn2): a real
     * UKI reaches the cut-over and the output names the engine; both hostile payloads exit 2 with the guard's
     * one-line message, and no JVM crash log (hs_err_pid*.log) appears in the working directory.
     */
    @ParameterizedTest
    @ValueSource(strings = {"native", "system"})
    void theCliRunsOnEitherEngineAndReportsHostilePayloadsWithoutDying(String engine, @TempDir Path dir)
            throws IOException, InterruptedException {
        String lib = "system";
        if (engine.equals("native")) {
            lib = EngineLibrary.candidates().stream().filter(Files::isRegularFile).findFirst()
                    .orElseThrow(() -> new AssertionError("no native/unicorn build (target/native/libunicorn.so.2): "
                            + "run native/unicorn/build.sh (needs the Debian packages cmake, gcc, patch)")).toString();
        }
        Path uki = TestPayloads.makeUki(dir.resolve("uki")).resolve("demo.efi");
        Result ok = emulate(dir, lib, uki);
        assertEquals(0, ok.exit, ok.output);
        assertTrue(ok.output.contains("cut-over: StartImage of a Linux kernel"), ok.output);
        assertTrue(ok.output.contains(engine.equals("native") ? "engine: Unicorn 2.0.1, native/unicorn build ("
                : "engine: Unicorn 2.0.1, unpatched ("), ok.output);
        for (byte[] code : List.of(SELF_MODIFYING_LOOP, JUMP_INTO_ZEROED_RAM)) {
            Path pe = dir.resolve("hostile.efi");
            Files.write(pe, tinyEfiApp(code));
            Result r = emulate(dir, lib, pe);
            assertEquals(2, r.exit, r.output);
            assertTrue(r.output.contains("rewrote its own code") || r.output.contains("executing zeroed memory"), r.output);
            try (Stream<Path> files = Files.list(dir)) {
                assertTrue(files.noneMatch(f -> f.getFileName().toString().startsWith("hs_err_pid")),
                        "the JVM crashed: " + r.output);
            }
        }
    }

    private record Result(int exit, String output) {
    }

    private static Result emulate(Path dir, String lib, Path payload) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx1g", "-D" + EngineLibrary.PROPERTY + "=" + lib,
                "-cp", System.getProperty("java.class.path"), "org.kexecmeasured.cli.Main",
                "emulate", payload.toString(), "--time-budget", BUDGET_MILLIS + "ms")
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(BUDGET_MILLIS + 60_000, TimeUnit.MILLISECONDS), "emulate did not end");
        return new Result(p.exitValue(), output);
    }
}
