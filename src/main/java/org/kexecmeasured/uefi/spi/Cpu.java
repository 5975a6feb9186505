package org.kexecmeasured.uefi.spi;

/**
 * The emulated x86_64 CPU as the firmware sees it: registers, memory mapping, the hooks the firmware
 * installs, and run/stop. Implemented on Unicorn in {@code uefi.unicorn}; the firmware gets one from a
 * {@link Factory} and never sees the engine itself.
 */
public interface Cpu extends AutoCloseable {

    /** Opens a fresh CPU (no memory mapped, no hooks). The composition root chooses the engine. */
    @FunctionalInterface
    interface Factory {
        Cpu open();
    }

    /** The registers the firmware model reads or writes. */
    enum Reg { RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, RIP, R8, R9, R10, R11, R12, R13, R14, R15,
        RFLAGS, CR0, CR3, CR4, CS, DS, ES, SS, FS, GS }

    /** Called from the code hook limited to the trap range, before the instruction at {@code address} runs. */
    @FunctionalInterface
    interface TrapHandler {
        void trap(long address);
    }

    /** Answers CPUID leaves; {@code out} receives EAX, EBX, ECX, EDX. */
    @FunctionalInterface
    interface CpuidHandler {
        void cpuid(int leaf, int subLeaf, int[] out);
    }

    /** Called once per translated block while a block hook is installed (slow path only). */
    @FunctionalInterface
    interface BlockHandler {
        void block(long address, int size);
    }

    long reg(Reg r);

    void setReg(Reg r, long value);

    /** XMM register {@code n} as 16 little-endian bytes. */
    byte[] xmm(int n);

    void setXmm(int n, byte[] value);

    long msr(int index);

    void setMsr(int index, long value);

    void setGdtr(long base, int limit);

    void setIdtr(long base, int limit);

    /** Maps {@code size} bytes read/write/execute at {@code address} (both page aligned); lazily backed. */
    void map(long address, long size);

    /**
     * Maps {@code content} (a whole number of pages) at {@code address} readable and executable: neither guest code
     * nor host writes for the guest ({@link GuestMemory#write} and what is built on it) can change it afterwards,
     * so its bytes are given here, once.
     */
    void mapReadExecute(long address, byte[] content);

    GuestMemory memory();

    /**
     * Runs from {@code begin} until {@link #stop()}, a halt, a fault, a host error in a hook, or
     * {@code timeoutMicros} (0 = none). Never throws for what the guest did: the result says how the run ended.
     */
    RunResult run(long begin, long timeoutMicros);

    /** Ends the current {@link #run} with {@link RunResult.End#STOPPED}; callable from hooks. */
    void stop();

    void setTrapRange(long begin, long end, TrapHandler handler);

    /**
     * Calls {@code handler} before the instruction at {@code address} runs, each time it runs (a code hook on
     * that one address: no other code pays for it). Used to see a jump into a kernel the payload placed itself.
     * Must be installed before code at that address is first translated.
     */
    void addCodeHook(long address, TrapHandler handler);

    void setCpuidHandler(CpuidHandler handler);

    /** Installs a hook on every block (costly: only for short phases such as after ExitBootServices). */
    void setBlockHandler(BlockHandler handler);

    @Override
    void close();
}
