package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.RunResult;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.le32;
import static org.kexecmeasured.uefi.TestPayloads.tinyEfiApp;

/**
 * Host writes the services do for the guest (SetMem, CopyMem, output pointers) into the firmware's read-execute
 * trap page: Unicorn's {@code uc_mem_write} ignores page protections, so without a check of its own the host would
 * patch the service stubs for the payload. Each hostile program points one service's destination at Stall's trap
 * slot, then calls Stall (whose slot would then run the payload's bytes instead of {@code ret}). The run must end
 * at the refused service, naming it, with every trap slot still {@code ret}.
 */
class GuestWritesTest {

    /** A real Unicorn CPU that keeps a copy of the trap page as it was when the platform closed it. */
    private static final class TrapPageAtClose implements Cpu {
        final UnicornCpu cpu = new UnicornCpu();
        byte[] trapPage;

        @Override public long reg(Reg r) { return cpu.reg(r); }
        @Override public void setReg(Reg r, long value) { cpu.setReg(r, value); }
        @Override public byte[] xmm(int n) { return cpu.xmm(n); }
        @Override public void setXmm(int n, byte[] value) { cpu.setXmm(n, value); }
        @Override public long msr(int index) { return cpu.msr(index); }
        @Override public void setMsr(int index, long value) { cpu.setMsr(index, value); }
        @Override public void setGdtr(long base, int limit) { cpu.setGdtr(base, limit); }
        @Override public void setIdtr(long base, int limit) { cpu.setIdtr(base, limit); }
        @Override public void map(long address, long size) { cpu.map(address, size); }
        @Override public void mapReadExecute(long address, byte[] content) { cpu.mapReadExecute(address, content); }
        @Override public GuestMemory memory() { return cpu.memory(); }
        @Override public RunResult run(long begin, long timeoutMicros) { return cpu.run(begin, timeoutMicros); }
        @Override public void stop() { cpu.stop(); }
        @Override public void setTrapRange(long begin, long end, TrapHandler h) { cpu.setTrapRange(begin, end, h); }
        @Override public void addCodeHook(long address, TrapHandler h) { cpu.addCodeHook(address, h); }
        @Override public void setCpuidHandler(CpuidHandler h) { cpu.setCpuidHandler(h); }
        @Override public void setBlockHandler(BlockHandler h) { cpu.setBlockHandler(h); }

        @Override
        public void close() {
            trapPage = cpu.memory().read(Machine.TRAP_BASE, (int) Machine.TRAP_SIZE);
            cpu.close();
        }
    }

    /** rbx = BootServices, r10 = RuntimeServices, r11 = Stall's trap slot; then {@code call}; then Stall(1). */
    private static byte[] program(byte[] call) {
        byte[] head = concat(bytes(0x53), // push rbx
                bytes(0x48, 0x83, 0xEC, 0x30), // sub rsp, 0x30  (shadow space; rsp 16-aligned at the calls)
                bytes(0x48, 0x8B, 0x5A, 0x60), // mov rbx, [rdx+0x60]  BootServices
                bytes(0x4C, 0x8B, 0x52, 0x58), // mov r10, [rdx+0x58]  RuntimeServices
                bytes(0x4C, 0x8B, 0x9B), le32(BootService.Stall.offset())); // mov r11, [rbx+Stall]
        byte[] tail = concat(bytes(0xB9, 1, 0, 0, 0), // mov ecx, 1
                bootService(BootService.Stall), // the slot the call above aimed at
                bytes(0x48, 0xB8, 21, 0, 0, 0, 0, 0, 0, 0x80), // mov rax, EFI_ABORTED
                bytes(0x48, 0x83, 0xC4, 0x30, 0x5B, 0xC3)); // add rsp, 0x30; pop rbx; ret
        return tinyEfiApp(concat(head, call, tail));
    }

    /** {@code call [rbx+offset]}. */
    private static byte[] bootService(BootService s) {
        return concat(bytes(0xFF, 0x93), le32(s.offset()));
    }

    private static final byte[] RCX_IS_SLOT = bytes(0x4C, 0x89, 0xD9); // mov rcx, r11

    private static void assertRefusedAndStubsIntact(String service, byte[] call) {
        TrapPageAtClose cpu = new TrapPageAtClose();
        EmulatorOptions o = EmulatorOptions.builder().timeBudgetMillis(10_000).ramSize(64L << 20)
                .payloadName("writes.efi").build();
        EmulationException e = assertThrows(EmulationException.class,
                () -> Emulator.run(program(call), o, () -> cpu));
        String m = e.getMessage();
        assertTrue(m.contains(service + ": bad pointer argument"), m);
        assertTrue(m.contains("read-only memory"), m);
        assertNotNull(cpu.trapPage, "the platform closed the CPU");
        byte[] rets = new byte[(int) Machine.TRAP_SIZE];
        Arrays.fill(rets, (byte) 0xC3);
        assertArrayEquals(rets, cpu.trapPage, "every trap slot still holds ret");
    }

    @Test
    void setMemIntoTheTrapPageStopsTheRunAndLeavesTheStubs() {
        assertRefusedAndStubsIntact("SetMem", concat(RCX_IS_SLOT,
                bytes(0xBA, 8, 0, 0, 0), // mov edx, 8  Size
                bytes(0x41, 0xB8, 0xF4, 0, 0, 0), // mov r8d, 0xF4  Value (hlt)
                bootService(BootService.SetMem)));
    }

    @Test
    void copyMemIntoTheTrapPageStopsTheRunAndLeavesTheStubs() {
        assertRefusedAndStubsIntact("CopyMem", concat(
                bytes(0x48, 0xC7, 0x44, 0x24, 0x20, 0xF4, 0xF4, 0xF4, 0xF4), // mov qword [rsp+0x20], hlt × 4 …
                RCX_IS_SLOT,
                bytes(0x48, 0x8D, 0x54, 0x24, 0x20), // lea rdx, [rsp+0x20]  Source
                bytes(0x41, 0xB8, 8, 0, 0, 0), // mov r8d, 8  Length
                bootService(BootService.CopyMem)));
    }

    @Test
    void allocatePoolsBufferPointerIntoTheTrapPageIsRefused() {
        assertRefusedAndStubsIntact("AllocatePool", concat(
                bytes(0xB9, 2, 0, 0, 0), // mov ecx, 2  EfiLoaderData
                bytes(0xBA, 16, 0, 0, 0), // mov edx, 16  Size
                bytes(0x4D, 0x89, 0xD8), // mov r8, r11  **Buffer
                bootService(BootService.AllocatePool)));
    }

    @Test
    void getNextMonotonicCountsOutputIntoTheTrapPageIsRefused() {
        assertRefusedAndStubsIntact("GetNextMonotonicCount", concat(RCX_IS_SLOT,
                bootService(BootService.GetNextMonotonicCount)));
    }

    @Test
    void getTimesOutputIntoTheTrapPageIsRefused() {
        assertRefusedAndStubsIntact("GetTime", concat(RCX_IS_SLOT,
                bytes(0x31, 0xD2), // xor edx, edx  Capabilities NULL
                bytes(0x41, 0xFF, 0x52, 0x18))); // call [r10+0x18]  GetTime
    }
}
