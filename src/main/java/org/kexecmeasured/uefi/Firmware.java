package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.Allocator;
import org.kexecmeasured.uefi.spi.Console;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.Events;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.RunResult;
import org.kexecmeasured.uefi.spi.Service;

import java.time.Duration;
import java.util.List;

/**
 * The emulated firmware's core: the machine, the memory map, the system table, the boot and runtime
 * services, the handle database and the loaded images. One instance runs one payload. Protocols are not
 * built here: {@link Platform} installs them through the narrow views this class hands out
 * ({@link #protocolContext()}, {@link #console()}, {@link #events()}, {@link #configurationTables()}).
 */
public final class Firmware implements AutoCloseable {

    private final EmulatorOptions options;
    private final Machine machine;
    private final GuestMemory mem;
    private final MemoryMap memoryMap = new MemoryMap();
    private final ConsoleLog console;
    private final MemoryServices memory;
    private final EventServices events;
    private final ProtocolDatabase protocols;
    private final ImageServices images;
    private final MiscServices misc;
    private final RuntimeServices runtime;
    private final SystemTable systemTable;
    private final IdleWatch idle;
    private final KernelEntryWatch kernelEntries;
    private final BootProtocolWatch bootProtocol = new BootProtocolWatch();
    private final long budgetNanos;
    private final long startNanos;

    /** Builds the core on a CPU from {@code cpus}; the CPU is closed again if anything here fails. */
    public Firmware(EmulatorOptions options, Cpu.Factory cpus) {
        this.options = options;
        this.budgetNanos = saturatedNanos(options.timeBudget());
        this.startNanos = System.nanoTime();
        Cpu cpu = cpus.open();
        try {
            this.machine = new Machine(cpu, options.ram(), options.cpuModel());
        } catch (RuntimeException | Error e) {
            cpu.close(); // the engine is native memory: never leak it on a failed construction
            throw e;
        }
        try {
            this.mem = machine.mem();
            machine.setLiveTrace(options.liveTrace());
            describeRam();
            console = new ConsoleLog(options.liveConsole());
            memory = new MemoryServices(machine, memoryMap);
            kernelEntries = new KernelEntryWatch(machine.cpu(), !options.fullEmulation());
            Cpu hooks = machine.cpu();
            boolean cutOver = !options.fullEmulation();
            memory.setPagesListener((base, pages) -> {
                kernelEntries.pagesAllocated(base, pages);
                if (cutOver) {
                    bootProtocol.pagesAllocated(hooks, base, pages);
                }
            });
            events = new EventServices(machine);
            idle = new IdleWatch(events::nowNanos);
            machine.setCallWatch(idle::afterCall);
            protocols = new ProtocolDatabase(mem, memory);
            images = new ImageServices(this);
            systemTable = new SystemTable(machine);
            misc = new MiscServices(mem, events, systemTable);
            long bootServices = ServiceTable.write(machine, BootService.SIGNATURE, BootService.values(), this::implementation);
            runtime = new RuntimeServices(machine, options.globalVariables(), events::nowNanos);
            systemTable.setServiceTables(bootServices, runtime.table());
        } catch (RuntimeException | Error e) {
            machine.close();
            throw e;
        }
    }

    /** The memory map at start: RAM as ConventionalMemory (page 0 reserved), the firmware area at the top. */
    private void describeRam() {
        for (RamRange r : options.ram()) {
            long s = r.start();
            if (s == 0) {
                memoryMap.add(0, MemoryMap.PAGE, MemoryType.ReservedMemoryType);
                s = MemoryMap.PAGE;
            }
            long e = Math.min(r.end(), machine.firmwareBase());
            if (e > s) {
                memoryMap.add(s, e, MemoryType.ConventionalMemory);
            }
        }
        memoryMap.add(machine.firmwareBase(), machine.ramSize(), MemoryType.BootServicesData);
    }

    /**
     * Every slot of EFI_BOOT_SERVICES, in the spec's order: its implementation or UNSUPPORTED. The switch must
     * cover every {@link BootService}, so no slot is forgotten and a misspelt name does not compile.
     */
    private Service implementation(BootService s) {
        return switch (s) {
            case RaiseTPL -> events::raiseTpl;
            case RestoreTPL -> events::restoreTpl;
            case AllocatePages -> memory::allocatePages;
            case FreePages -> memory::freePages;
            case GetMemoryMap -> memory::getMemoryMap;
            case AllocatePool -> memory::allocatePool;
            case FreePool -> memory::freePool;
            case CreateEvent -> events::createEvent;
            case SetTimer -> events::setTimer;
            case WaitForEvent -> events::waitForEvent;
            case SignalEvent -> events::signalEvent;
            case CloseEvent -> events::closeEvent;
            case CheckEvent -> events::checkEvent;
            case InstallProtocolInterface -> protocols::installProtocolInterface;
            case ReinstallProtocolInterface -> protocols::reinstallProtocolInterface;
            case UninstallProtocolInterface -> protocols::uninstallProtocolInterface;
            case HandleProtocol -> protocols::handleProtocol;
            case Reserved -> Service.UNSUPPORTED;
            case RegisterProtocolNotify -> protocols::registerProtocolNotify;
            case LocateHandle -> protocols::locateHandle;
            case LocateDevicePath -> protocols::locateDevicePath;
            case InstallConfigurationTable -> misc::installConfigurationTable;
            case LoadImage -> images::loadImage;
            case StartImage -> images::startImage;
            case Exit -> images::exit;
            case UnloadImage -> images::unloadImage;
            case ExitBootServices -> images::exitBootServices;
            case GetNextMonotonicCount -> misc::getNextMonotonicCount;
            case Stall -> misc::stall;
            case SetWatchdogTimer -> misc::setWatchdogTimer;
            case ConnectController -> protocols::connectController;
            case DisconnectController -> protocols::disconnectController;
            case OpenProtocol -> protocols::openProtocol;
            case CloseProtocol -> protocols::closeProtocol;
            case OpenProtocolInformation -> protocols::openProtocolInformation;
            case ProtocolsPerHandle -> protocols::protocolsPerHandle;
            case LocateHandleBuffer -> protocols::locateHandleBuffer;
            case LocateProtocol -> protocols::locateProtocol;
            case InstallMultipleProtocolInterfaces -> protocols::installMultipleProtocolInterfaces;
            case UninstallMultipleProtocolInterfaces -> protocols::uninstallMultipleProtocolInterfaces;
            case CalculateCrc32 -> misc::calculateCrc32;
            case CopyMem -> misc::copyMem;
            case SetMem -> misc::setMem;
            case CreateEventEx -> events::createEventEx;
        };
    }

    /** The watch for a jump into a measured kernel through the x86 boot protocol after ExitBootServices. */
    BootProtocolWatch bootProtocol() {
        return bootProtocol;
    }

    // ---------------------------------------------------------------- views for protocols

    /** What every protocol uses: guest memory, the allocator, trap slots, the handle database. */
    public ProtocolContext protocolContext() {
        return new ProtocolContext(mem, memory, machine, protocols);
    }

    public Console console() {
        return console;
    }

    public Events events() {
        return events;
    }

    public SystemTable configurationTables() {
        return systemTable;
    }

    public Allocator allocator() {
        return memory;
    }

    // ---------------------------------------------------------------- accessors

    public EmulatorOptions options() {
        return options;
    }

    public Machine machine() {
        return machine;
    }

    public GuestMemory mem() {
        return mem;
    }

    public MemoryMap memoryMap() {
        return memoryMap;
    }

    public ProtocolDatabase protocols() {
        return protocols;
    }

    public ImageServices images() {
        return images;
    }

    /** The watch for a jump into a kernel the payload placed itself. */
    KernelEntryWatch kernelEntries() {
        return kernelEntries;
    }

    public RuntimeServices runtime() {
        return runtime;
    }

    /** The guest address of EFI_SYSTEM_TABLE. */
    public long systemTable() {
        return systemTable.address();
    }

    /** Sets the system table's console: one handle carrying ConIn and ConOut (also StdErr). */
    void setConsole(long handle, long conIn, long conOut) {
        systemTable.setConsole(handle, conIn, conOut);
    }

    /** Text written to ConOut so far. */
    public String consoleText() {
        return console.text();
    }

    /** Nanoseconds of the time budget left (negative once it is spent). */
    private long remainingNanos() {
        return budgetNanos - (System.nanoTime() - startNanos);
    }

    /** A duration in nanoseconds, saturated at Long.MAX_VALUE (292 years): a huge budget never wraps. */
    static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    // ---------------------------------------------------------------- running

    /**
     * Runs guest code from {@code rip} until a service stops the machine. A halt, a fault, a failing service
     * and the end of the time budget throw {@link EmulationException} with RIP, the faulting address and the
     * last calls.
     */
    public RunResult run(long rip) {
        long left = remainingNanos();
        if (left <= 0) {
            throw new EmulationException(report(budgetExhausted(), rip, -1));
        }
        RunResult r = machine.cpu().run(rip, Math.max(1, left / 1000));
        if (r.end() == RunResult.End.HOST_ERROR) {
            // the run is over either way; the caller gets one clear exception with the cause attached
            throw new EmulationException("host error while emulating (the run was stopped): " + r.hostFailure(),
                    r.hostFailure());
        }
        if (idle.halted() != null) {
            // a stuck payload says why on its console (e.g. systemd's assertion message before freeze())
            // it stopped in a waiting service's trap slot: the payload's code is where that call returns to
            long caller = machine.isTrap(r.rip()) ? mem.u64(machine.cpu().reg(Cpu.Reg.RSP)) : r.rip();
            throw new EmulationException(reportWithConsole(idle.halted(), caller));
        }
        if (machine.failure() != null) {
            throw new EmulationException(report(machine.failure(), r.rip(), -1));
        }
        return switch (r.end()) {
            case STOPPED -> r;
            case TIMED_OUT -> throw new EmulationException(report(budgetExhausted(), r.rip(), -1));
            case HALTED -> throw new EmulationException(reportWithConsole("the payload halted the CPU (hlt)", r.rip()));
            case MEMORY_FAULT -> throw new EmulationException(report(r.detail() + " at 0x"
                    + Long.toHexString(r.faultAddress()), r.rip(), r.faultAddress()));
            case CPU_EXCEPTION -> throw new EmulationException(report("CPU exception/interrupt " + r.interrupt()
                    + " (" + vectorName(r.interrupt()) + ")", r.rip(), -1));
            case ENGINE_ERROR, RUNAWAY_CODE -> throw new EmulationException(report(r.detail(), r.rip(), -1));
            case HOST_ERROR -> throw new IllegalStateException("handled above");
        };
    }

    private String budgetExhausted() {
        return "time budget of " + options.timeBudgetMillis() + " ms exhausted";
    }

    private static String vectorName(int v) {
        return switch (v) {
            case 0 -> "#DE divide error";
            case 1 -> "#DB";
            case 3 -> "#BP int3";
            case 6 -> "#UD invalid opcode";
            case 13 -> "#GP general protection";
            case 14 -> "#PF page fault";
            default -> "vector " + v;
        };
    }

    /** An error report: what, RIP (with image and offset), the faulting address, the last service calls. */
    public String report(String what, long rip, long faultAddress) {
        StringBuilder sb = new StringBuilder();
        sb.append(what).append("; RIP=0x").append(Long.toHexString(rip));
        if (faultAddress >= 0) {
            sb.append(" (start of the faulting code block)");
        }
        String where = images.describe(rip);
        if (where != null) {
            sb.append(" (").append(where).append(')');
        }
        if (faultAddress >= 0) {
            sb.append(", address 0x").append(Long.toHexString(faultAddress));
        }
        List<TraceEntry> recent = machine.recentCalls();
        if (!recent.isEmpty()) {
            sb.append("; last service calls: ");
            int from = Math.max(0, recent.size() - 5);
            for (int i = from; i < recent.size(); i++) {
                if (i > from) sb.append(" | ");
                sb.append(recent.get(i));
            }
        } else {
            sb.append("; no service calls were made");
        }
        return sb.toString();
    }

    /** {@link #report} followed by the console's last lines, for a run that ended without a result. */
    String reportWithConsole(String what, long rip) {
        return report(what, rip, -1) + console.reportTail();
    }

    @Override
    public void close() {
        machine.close();
    }
}
