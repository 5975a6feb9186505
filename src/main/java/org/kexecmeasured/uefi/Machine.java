package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.uefi.spi.Service;
import org.kexecmeasured.uefi.spi.ServiceException;
import org.kexecmeasured.uefi.spi.ServiceSlots;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The emulated machine: CPU in long mode, RAM, the firmware area (page tables, GDT, firmware tables,
 * stack), and the trap page through which guest code reaches Java services.
 *
 * <p>Every firmware function pointer targets its own 8-byte slot holding {@code ret} in the trap page;
 * one code hook limited to that page runs the Java service and sets RAX, then the {@code ret} returns
 * to the caller. Guest code elsewhere runs without host callbacks. A service that throws ends the run
 * ({@link #fail}) with a message naming it.
 */
public final class Machine implements ServiceSlots, AutoCloseable {

    public static final long TRAP_BASE = 0xFFE0_0000L;
    public static final long TRAP_SIZE = 0x1_0000;
    private static final int SLOT = 8;
    /** Size of the BootServicesData "firmware" area at the top of RAM (uefi-subset §1). */
    public static final long FIRMWARE_SIZE = 16L << 20;
    public static final long STACK_SIZE = 1L << 20;
    public static final int CS = 0x38;
    public static final int DS = 0x30;
    public static final long CR0 = 0x80010033L;
    public static final long CR4 = 0x620L;
    public static final long EFER = (1 << 8) | (1 << 10) | (1 << 11);
    public static final int MSR_EFER = 0xC0000080;
    /** Service calls kept for error reports and --trace. */
    public static final int TRACE_LIMIT = 200_000;

    private final Cpu cpu;
    private final GuestMemory mem;
    private final long ramSize;
    private final List<RamRange> ram;
    private final long fwBase;
    private long fwNext;
    private final long fwLimit;
    private final long stackTop;
    private long cr3;

    private final Service[] services = new Service[(int) (TRAP_SIZE / SLOT)];
    private final String[] names = new String[services.length];
    private final boolean[] traced = new boolean[services.length];
    private int nextSlot;

    private final List<TraceEntry> trace = new ArrayList<>();
    private final Deque<TraceEntry> recent = new ArrayDeque<>();
    private int calls;
    private String failure;
    private java.util.function.Consumer<TraceEntry> liveTrace;
    private java.util.function.Function<String, String> callWatch;

    public Machine(Cpu cpu, List<RamRange> ram, CpuModel model) {
        if (ram.isEmpty()) {
            throw new IllegalArgumentException("no RAM");
        }
        long prevEnd = -1;
        for (RamRange r : ram) {
            if (r.start() < prevEnd) {
                throw new IllegalArgumentException("RAM ranges must be sorted and must not overlap");
            }
            prevEnd = r.end();
        }
        RamRange top = ram.get(ram.size() - 1);
        if (top.size() < 2 * FIRMWARE_SIZE) {
            throw new IllegalArgumentException("the highest RAM range must hold at least 32 MiB (firmware area)");
        }
        this.cpu = cpu;
        this.mem = cpu.memory();
        this.ram = List.copyOf(ram);
        this.ramSize = top.end();
        this.fwBase = ramSize - FIRMWARE_SIZE;
        this.fwNext = fwBase;
        this.stackTop = ramSize;
        this.fwLimit = ramSize - STACK_SIZE;
        for (RamRange r : ram) {
            long s = Math.max(r.start(), 0x1000); // page 0 stays unmapped: NULL dereferences fault
            if (r.end() > s) {
                cpu.map(s, r.end() - s);
            }
        }
        byte[] rets = new byte[(int) TRAP_SIZE];
        java.util.Arrays.fill(rets, (byte) 0xC3);
        // neither guest code nor a service writing for the guest (SetMem, an output pointer) can patch the stubs
        cpu.mapReadExecute(TRAP_BASE, rets);
        cpu.setTrapRange(TRAP_BASE, TRAP_BASE + TRAP_SIZE - 1, this::onTrap);
        cpu.setCpuidHandler(model::answer);
        setupLongMode();
    }

    private void setupLongMode() {
        // 2 MiB identity pages over 0-4 GiB: PML4, PDPT, 4 PDs
        long pml4 = fwAlloc(0x1000, 0x1000);
        long pdpt = fwAlloc(0x1000, 0x1000);
        long pd = fwAlloc(0x4000, 0x1000);
        byte[] pds = new byte[0x4000];
        for (int i = 0; i < 2048; i++) {
            long e = ((long) i << 21) | 0x83; // present, writable, 2 MiB page
            for (int b = 0; b < 8; b++) {
                pds[i * 8 + b] = (byte) (e >>> (8 * b));
            }
        }
        mem.write(pd, pds);
        for (int j = 0; j < 4; j++) {
            mem.putU64(pdpt + 8L * j, (pd + 0x1000L * j) | 0x3);
        }
        mem.putU64(pml4, pdpt | 0x3);
        cr3 = pml4;
        long gdt = fwAlloc(8 * 8, 16);
        mem.putU64(gdt + DS, 0x00CF92000000FFFFL); // flat data
        mem.putU64(gdt + CS, 0x00AF9A000000FFFFL); // 64-bit code
        cpu.setGdtr(gdt, 8 * 8 - 1);
        long idt = fwAlloc(16, 16);
        cpu.setIdtr(idt, 0);
        cpu.setReg(Cpu.Reg.CR4, CR4);
        cpu.setReg(Cpu.Reg.CR3, cr3);
        try {
            // Unicorn 2.0.1 ignores host MSR writes (EFER reads back LME|LMA = 0x500 from its reset state)
            cpu.setMsr(MSR_EFER, EFER);
        } catch (IllegalStateException e) {
            // cosmetic before ExitBootServices (uefi-subset §1)
        }
        cpu.setReg(Cpu.Reg.CR0, CR0);
        try {
            cpu.setReg(Cpu.Reg.DS, DS);
            cpu.setReg(Cpu.Reg.ES, DS);
            cpu.setReg(Cpu.Reg.SS, DS);
            cpu.setReg(Cpu.Reg.CS, CS);
        } catch (IllegalStateException e) {
            // selectors are cosmetic for payloads before ExitBootServices (Unicorn's reset state also works)
        }
    }

    public Cpu cpu() {
        return cpu;
    }

    public GuestMemory mem() {
        return mem;
    }

    /** End of the highest RAM range. */
    public long ramSize() {
        return ramSize;
    }

    public List<RamRange> ram() {
        return ram;
    }

    public long firmwareBase() {
        return fwBase;
    }

    public long stackTop() {
        return stackTop;
    }

    public long cr3() {
        return cr3;
    }

    /**
     * Zeroed firmware memory (BootServicesData) for tables and protocol structures. During set-up the area is
     * still as mapped (zeros) and the memory can prove it ({@link GuestMemory#untouchedZeros}): no fill then;
     * once the guest has run it may have written anywhere in RAM, so every allocation is filled.
     */
    public long fwAlloc(long size, long align) {
        long a = (fwNext + align - 1) & -align;
        if (a + size > fwLimit) {
            throw new EmulationException("firmware area exhausted (" + (fwLimit - fwBase) + " bytes)");
        }
        fwNext = a + size;
        if (!mem.untouchedZeros(a, size)) {
            mem.fill(a, size, (byte) 0);
        }
        return a;
    }

    public long fwAlloc(long size) {
        return fwAlloc(size, 16);
    }

    /** A guest copy of {@code data} in firmware memory. */
    public long fwCopy(byte[] data) {
        long a = fwAlloc(Math.max(data.length, 1));
        mem.write(a, data);
        return a;
    }

    @Override
    public long slot(String name, Service service) {
        return slot(name, service, true);
    }

    /** A trap slot whose calls are traced only if {@code traceIt} (internal return addresses are not). */
    public long slot(String name, Service service, boolean traceIt) {
        if (nextSlot >= services.length) {
            throw new IllegalStateException("trap page full");
        }
        services[nextSlot] = service;
        names[nextSlot] = name;
        traced[nextSlot] = traceIt;
        return TRAP_BASE + (long) SLOT * nextSlot++;
    }

    public boolean isTrap(long address) {
        return address >= TRAP_BASE && address < TRAP_BASE + TRAP_SIZE;
    }

    public String slotName(long address) {
        int i = (int) ((address - TRAP_BASE) / SLOT);
        return i >= 0 && i < nextSlot ? names[i] : null;
    }

    public void setLiveTrace(java.util.function.Consumer<TraceEntry> c) {
        this.liveTrace = c;
    }

    /**
     * Sees every traced service call after it ran (by name); a non-null answer ends the run with that message
     * (the firmware's {@link IdleWatch}).
     */
    void setCallWatch(java.util.function.Function<String, String> watch) {
        this.callWatch = watch;
    }

    private void onTrap(long address) {
        try {
            dispatch(address);
        } catch (Throwable t) {
            // an Error (e.g. OutOfMemoryError) must end the run: the service may be half done and RAX unset
            String n = slotName(address);
            fail("internal error in " + (n == null ? "the trap handler" : n) + ": " + t);
        }
    }

    private void dispatch(long address) {
        int i = (int) ((address - TRAP_BASE) / SLOT);
        if ((address - TRAP_BASE) % SLOT != 0 || i >= nextSlot) {
            fail("jump into the firmware trap page at 0x" + Long.toHexString(address) + ", which is no service");
            return;
        }
        Call c;
        try {
            c = new Call(cpu, names[i]);
        } catch (RuntimeException e) {
            fail("cannot read the arguments of " + names[i] + ": " + e.getMessage());
            return;
        }
        long status;
        try {
            status = services[i].call(c);
        } catch (GuestMemoryException e) {
            fail(names[i] + ": bad pointer argument: " + e.getMessage());
            return;
        } catch (EmulationException | ServiceException e) {
            fail(names[i] + ": " + e.getMessage());
            return;
        } catch (Throwable e) {
            fail("internal error in " + names[i] + ": " + e);
            return;
        }
        if (!c.isRedirected()) {
            cpu.setReg(Cpu.Reg.RAX, status);
        }
        if (traced[i]) {
            long ra;
            try {
                ra = c.returnAddress();
            } catch (RuntimeException e) {
                ra = -1;
            }
            TraceEntry t = new TraceEntry(calls++, names[i], c.registerArgs(), status, ra);
            if (trace.size() < TRACE_LIMIT) {
                trace.add(t);
            }
            recent.addLast(t);
            if (recent.size() > 16) {
                recent.removeFirst();
            }
            if (liveTrace != null) {
                liveTrace.accept(t);
            }
            String stuck = callWatch == null ? null : callWatch.apply(names[i]);
            if (stuck != null) {
                fail(stuck);
            }
        }
    }

    /** Ends the current run with an error; the message becomes the report. */
    public void fail(String message) {
        if (failure == null) {
            failure = message;
        }
        cpu.stop();
    }

    public String failure() {
        return failure;
    }

    public List<TraceEntry> trace() {
        return trace;
    }

    public List<TraceEntry> recentCalls() {
        return new ArrayList<>(recent);
    }

    @Override
    public void close() {
        cpu.close();
    }
}
