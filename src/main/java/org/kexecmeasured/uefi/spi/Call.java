package org.kexecmeasured.uefi.spi;

/**
 * One guest call of a firmware function (MS x64 ABI): arguments in RCX, RDX, R8, R9, then on the stack
 * at RSP+0x28 (RSP points at the return address when the trap slot is reached).
 */
public final class Call {
    private final GuestMemory mem;
    private final String name;
    private final long rsp;
    private final long[] regArgs = new long[4];
    private boolean redirected;

    /** Reads the register arguments of the call now entering {@code name}. */
    public Call(Cpu cpu, String name) {
        this.mem = cpu.memory();
        this.name = name;
        this.rsp = cpu.reg(Cpu.Reg.RSP);
        regArgs[0] = cpu.reg(Cpu.Reg.RCX);
        regArgs[1] = cpu.reg(Cpu.Reg.RDX);
        regArgs[2] = cpu.reg(Cpu.Reg.R8);
        regArgs[3] = cpu.reg(Cpu.Reg.R9);
    }

    public String name() {
        return name;
    }

    /** Argument {@code i} (0-based) as a 64-bit value. */
    public long arg(int i) {
        return i < 4 ? regArgs[i] : mem.u64(rsp + 0x28 + 8L * (i - 4));
    }

    public long returnAddress() {
        return mem.u64(rsp);
    }

    public long rsp() {
        return rsp;
    }

    /** The handler set RIP/RSP/RAX itself (StartImage, Exit): the dispatcher must not write RAX. */
    public void redirected() {
        redirected = true;
    }

    public boolean isRedirected() {
        return redirected;
    }

    /** RCX, RDX, R8, R9 as the call found them (for the trace). */
    public long[] registerArgs() {
        return regArgs.clone();
    }
}
