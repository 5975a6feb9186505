package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.protocol.RngProtocol;
import org.kexecmeasured.uefi.protocol.SimpleTextInputExProtocol;
import org.kexecmeasured.uefi.protocol.SimpleTextInputProtocol;
import org.kexecmeasured.uefi.protocol.SimpleTextOutputProtocol;
import org.kexecmeasured.uefi.protocol.Tcg2Protocol;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * The emulated firmware: machine, memory map, system table, boot and runtime services, the protocol
 * database and the loaded images. One instance runs one payload.
 */
public final class Firmware implements AutoCloseable {

    /** The boot services in table order (UEFI 2.10 §4.4). */
    static final String[] BOOT_SERVICES = {
        "RaiseTPL", "RestoreTPL", "AllocatePages", "FreePages", "GetMemoryMap", "AllocatePool", "FreePool",
        "CreateEvent", "SetTimer", "WaitForEvent", "SignalEvent", "CloseEvent", "CheckEvent",
        "InstallProtocolInterface", "ReinstallProtocolInterface", "UninstallProtocolInterface", "HandleProtocol",
        "Reserved", "RegisterProtocolNotify", "LocateHandle", "LocateDevicePath", "InstallConfigurationTable",
        "LoadImage", "StartImage", "Exit", "UnloadImage", "ExitBootServices", "GetNextMonotonicCount", "Stall",
        "SetWatchdogTimer", "ConnectController", "DisconnectController", "OpenProtocol", "CloseProtocol",
        "OpenProtocolInformation", "ProtocolsPerHandle", "LocateHandleBuffer", "LocateProtocol",
        "InstallMultipleProtocolInterfaces", "UninstallMultipleProtocolInterfaces", "CalculateCrc32", "CopyMem",
        "SetMem", "CreateEventEx"};

    public static final long SYSTEM_TABLE_SIGNATURE = 0x5453595320494249L; // "IBI SYST"
    public static final long BOOT_SERVICES_SIGNATURE = 0x56524553544f4f42L; // "BOOTSERV"
    public static final int REVISION = (2 << 16) | 70;
    public static final int MAX_CONFIG_TABLES = 64;
    public static final int MAX_POOLS = 100_000;

    private final EmulatorOptions options;
    private final Machine machine;
    private final GuestMemory mem;
    private final MemoryMap memoryMap = new MemoryMap();
    private final ProtocolDatabase protocols;
    private final ImageServices images;
    private final RuntimeServices runtime;
    private final StringBuilder console = new StringBuilder();
    private final Map<Long, Long> pools = new HashMap<>();
    private final Map<Long, Event> events = new LinkedHashMap<>();
    private final LinkedHashMap<Guid, Long> configTables = new LinkedHashMap<>();
    private long nowNanos;
    private long monotonic;
    private int tpl = 4;
    private final long systemTable;
    private final long bootServices;
    private final long configTableArray;
    private final long consoleHandle;
    private final long deadlineNanos;
    private boolean exitBootServicesDone;

    /** EFI event state; timers run on the virtual clock advanced by Stall and WaitForEvent. */
    static final class Event {
        final long type;
        boolean signaled;
        long deadline = -1;
        long period;

        Event(long type) {
            this.type = type;
        }
    }

    public Firmware(EmulatorOptions options) {
        this.options = options;
        this.deadlineNanos = System.nanoTime() + options.timeBudgetMillis() * 1_000_000L;
        UnicornCpu cpu = new UnicornCpu();
        try {
            this.machine = new Machine(cpu, options.ram(), options.cpuModel());
        } catch (RuntimeException e) {
            cpu.close();
            throw e;
        }
        try {
            this.mem = machine.mem();
            machine.setLiveTrace(options.liveTrace());
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
            protocols = new ProtocolDatabase(this);
            images = new ImageServices(this);
            runtime = new RuntimeServices(this);

            Map<String, Service> bs = new HashMap<>();
            registerMemoryServices(bs);
            registerEventServices(bs);
            registerMiscServices(bs);
            protocols.register(bs);
            images.register(bs);
            bootServices = machine.fwAlloc(24 + 8L * BOOT_SERVICES.length);
            for (int i = 0; i < BOOT_SERVICES.length; i++) {
                String n = BOOT_SERVICES[i];
                Service s = bs.getOrDefault(n, c -> EfiStatus.UNSUPPORTED);
                mem.putU64(bootServices + 24 + 8L * i, machine.slot(n, s));
            }
            writeHeader(bootServices, BOOT_SERVICES_SIGNATURE, 24 + 8 * BOOT_SERVICES.length);
            long rt = runtime.buildTable();

            consoleHandle = protocols.newHandle();
            SimpleTextInputProtocol conIn = new SimpleTextInputProtocol(this, consoleHandle);
            new SimpleTextInputExProtocol(this, consoleHandle);
            SimpleTextOutputProtocol conOut = new SimpleTextOutputProtocol(this, consoleHandle);

            configTableArray = machine.fwAlloc(24L * MAX_CONFIG_TABLES);
            systemTable = machine.fwAlloc(120);
            long vendor = machine.fwCopy(GuestMemory.utf16zBytes("kexec-measured"));
            mem.putU64(systemTable + 24, vendor);
            mem.putU32(systemTable + 32, 0x00010000);
            mem.putU64(systemTable + 40, consoleHandle);
            mem.putU64(systemTable + 48, conIn.address());
            mem.putU64(systemTable + 56, consoleHandle);
            mem.putU64(systemTable + 64, conOut.address());
            mem.putU64(systemTable + 72, consoleHandle);
            mem.putU64(systemTable + 80, conOut.address());
            mem.putU64(systemTable + 88, rt);
            mem.putU64(systemTable + 96, bootServices);
            updateConfigTables();

            new Tcg2Protocol(this, options.measurer());
            if (options.rng() != null) {
                new RngProtocol(this, options.rng());
            }
        } catch (RuntimeException | Error e) {
            machine.close(); // the Unicorn instance is native memory: never leak it on a failed construction
            throw e;
        }
    }

    private void writeHeader(long table, long signature, int size) {
        mem.putU64(table, signature);
        mem.putU32(table + 8, REVISION);
        mem.putU32(table + 12, size);
        mem.putU32(table + 16, 0);
        mem.putU32(table + 20, 0);
        mem.putU32(table + 16, crc32(mem.read(table, size)));
    }

    static long crc32(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }

    void writeTableHeader(long table, long signature, int size) {
        writeHeader(table, signature, size);
    }

    /** InstallConfigurationTable on the firmware's own behalf (tables real firmware installs itself). */
    public void installConfigTable(Guid guid, long address) {
        if (!configTables.containsKey(guid) && configTables.size() >= MAX_CONFIG_TABLES) {
            throw new EmulationException("no room for configuration table " + guid);
        }
        configTables.put(guid, address);
        updateConfigTables();
    }

    private void updateConfigTables() {
        int i = 0;
        for (Map.Entry<Guid, Long> e : configTables.entrySet()) {
            mem.putGuid(configTableArray + 24L * i, e.getKey());
            mem.putU64(configTableArray + 24L * i + 16, e.getValue());
            i++;
        }
        mem.putU64(systemTable + 104, configTables.size());
        mem.putU64(systemTable + 112, configTableArray);
        writeHeader(systemTable, SYSTEM_TABLE_SIGNATURE, 120);
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

    public RuntimeServices runtime() {
        return runtime;
    }

    public long systemTable() {
        return systemTable;
    }

    public long consoleHandle() {
        return consoleHandle;
    }

    public Map<Guid, Long> configTables() {
        return new LinkedHashMap<>(configTables);
    }

    public boolean exitBootServicesDone() {
        return exitBootServicesDone;
    }

    /** Text written to ConOut so far. */
    public String console() {
        return console.toString();
    }

    public void consoleWrite(String s) {
        if (console.length() < (4 << 20)) {
            console.append(s);
        }
        if (options.liveConsole() != null) {
            options.liveConsole().accept(s);
        }
    }

    public long nowNanos() {
        return nowNanos;
    }

    public void advanceTime(long nanos) {
        nowNanos += Math.max(0, nanos);
    }

    /** Nanoseconds of the time budget left (at least 1 ms so that a run can report). */
    public long remainingNanos() {
        return deadlineNanos - System.nanoTime();
    }

    /** Reads a device path (including its end node) from guest memory; at most 64 KiB. */
    public byte[] readDevicePath(long address) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long p = address;
        while (true) {
            byte[] h = mem.read(p, 4);
            int len = (h[2] & 0xff) | (h[3] & 0xff) << 8;
            if (len < 4) {
                throw new GuestMemoryException("device path node at 0x" + Long.toHexString(p) + " has length " + len, p);
            }
            out.writeBytes(mem.read(p, len));
            if ((h[0] & 0xff) == 0x7F && (h[1] & 0xff) == 0xFF) {
                return out.toByteArray();
            }
            p += len;
            if (out.size() > 65536) {
                throw new GuestMemoryException("device path at 0x" + Long.toHexString(address) + " longer than 64 KiB", address);
            }
        }
    }

    // ---------------------------------------------------------------- memory services

    /** AllocatePool as whole pages; returns -1 when memory is exhausted. */
    public long allocatePool(MemoryType type, long size) {
        if (size < 0 || pools.size() >= MAX_POOLS) {
            return -1;
        }
        long pages = Math.max(1, (size + MemoryMap.PAGE - 1) / MemoryMap.PAGE);
        long a = memoryMap.allocate(MemoryMap.AllocateType.AnyPages, type, pages, 0);
        if (a < 0) {
            return -1;
        }
        pools.put(a, pages);
        return a;
    }

    /** AllocatePages (AnyPages) for the firmware's own use; -1 when exhausted. */
    public long allocatePages(MemoryType type, long pages) {
        return memoryMap.allocate(MemoryMap.AllocateType.AnyPages, type, pages, 0);
    }

    private static MemoryType allocatableType(long t) {
        MemoryType mt = MemoryType.of(t);
        if (mt == null || mt == MemoryType.ConventionalMemory || mt == MemoryType.PersistentMemory
                || mt == MemoryType.UnacceptedMemoryType) {
            return null;
        }
        return mt;
    }

    private void registerMemoryServices(Map<String, Service> bs) {
        bs.put("AllocatePages", c -> {
            long how = c.arg(0);
            MemoryType t = allocatableType(c.arg(1));
            long pages = c.arg(2);
            long ptr = c.arg(3);
            if (how > 2 || t == null || ptr == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long addr = how == 0 ? 0 : mem.u64(ptr);
            long a = memoryMap.allocate(MemoryMap.AllocateType.values()[(int) how], t, pages, addr);
            if (a < 0) {
                return how == 2 ? EfiStatus.NOT_FOUND : EfiStatus.OUT_OF_RESOURCES;
            }
            mem.putU64(ptr, a);
            return EfiStatus.SUCCESS;
        });
        bs.put("FreePages", c -> memoryMap.free(c.arg(0), c.arg(1)) ? EfiStatus.SUCCESS : EfiStatus.NOT_FOUND);
        bs.put("GetMemoryMap", c -> {
            long sizePtr = c.arg(0);
            if (sizePtr == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            byte[] d = memoryMap.descriptors();
            long have = mem.u64(sizePtr);
            mem.putU64(sizePtr, d.length);
            if (c.arg(3) != 0) {
                mem.putU64(c.arg(3), MemoryMap.DESCRIPTOR_SIZE);
            }
            if (c.arg(4) != 0) {
                mem.putU32(c.arg(4), MemoryMap.DESCRIPTOR_VERSION);
            }
            if (have < d.length) {
                return EfiStatus.BUFFER_TOO_SMALL;
            }
            if (c.arg(1) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            mem.write(c.arg(1), d);
            if (c.arg(2) != 0) {
                mem.putU64(c.arg(2), memoryMap.mapKey());
            }
            return EfiStatus.SUCCESS;
        });
        bs.put("AllocatePool", c -> {
            MemoryType t = allocatableType(c.arg(0));
            if (t == null || c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long a = allocatePool(t, c.arg(1));
            if (a < 0) {
                return EfiStatus.OUT_OF_RESOURCES;
            }
            mem.putU64(c.arg(2), a);
            return EfiStatus.SUCCESS;
        });
        bs.put("FreePool", c -> {
            Long pages = pools.remove(c.arg(0));
            if (pages == null) {
                return EfiStatus.INVALID_PARAMETER;
            }
            memoryMap.free(c.arg(0), pages);
            return EfiStatus.SUCCESS;
        });
    }

    // ---------------------------------------------------------------- events and timers

    private void registerEventServices(Map<String, Service> bs) {
        bs.put("RaiseTPL", c -> {
            long old = tpl;
            tpl = (int) c.arg(0);
            return old;
        });
        bs.put("RestoreTPL", c -> {
            tpl = (int) c.arg(0);
            return 0;
        });
        bs.put("CreateEvent", c -> createEvent(c.arg(0), c.arg(4)));
        bs.put("CreateEventEx", c -> createEvent(c.arg(0), c.arg(5)));
        bs.put("SetTimer", c -> {
            Event e = events.get(c.arg(0));
            if (e == null || (e.type & 0x80000000L) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long kind = c.arg(1);
            long t = c.arg(2) * 100; // 100 ns units
            if (kind == 0) {
                e.deadline = -1;
            } else if (kind == 1 || kind == 2) {
                e.deadline = nowNanos + t;
                e.period = kind == 1 ? Math.max(t, 1) : 0;
            } else {
                return EfiStatus.INVALID_PARAMETER;
            }
            return EfiStatus.SUCCESS;
        });
        bs.put("WaitForEvent", c -> {
            long n = c.arg(0);
            if (n == 0 || n > 64 || c.arg(1) == 0 || c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            List<Event> list = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Event e = events.get(mem.u64(c.arg(1) + 8L * i));
                if (e == null) {
                    mem.putU64(c.arg(2), i);
                    return EfiStatus.INVALID_PARAMETER;
                }
                list.add(e);
            }
            // the earliest event to fire on the virtual clock; keys never arrive
            int best = -1;
            long when = Long.MAX_VALUE;
            for (int i = 0; i < list.size(); i++) {
                Event e = list.get(i);
                long w = e.signaled ? nowNanos : (e.deadline >= 0 ? e.deadline : Long.MAX_VALUE);
                if (w < when) {
                    when = w;
                    best = i;
                }
            }
            if (best < 0) {
                throw new EmulationException("WaitForEvent on events that never fire (no keyboard input in the emulator)");
            }
            nowNanos = Math.max(nowNanos, when);
            fire(list.get(best));
            mem.putU64(c.arg(2), best);
            return EfiStatus.SUCCESS;
        });
        bs.put("SignalEvent", c -> {
            Event e = events.get(c.arg(0));
            if (e == null) {
                return EfiStatus.INVALID_PARAMETER;
            }
            e.signaled = true;
            return EfiStatus.SUCCESS;
        });
        bs.put("CloseEvent", c -> events.remove(c.arg(0)) == null ? EfiStatus.INVALID_PARAMETER : EfiStatus.SUCCESS);
        bs.put("CheckEvent", c -> {
            Event e = events.get(c.arg(0));
            if (e == null) {
                return EfiStatus.INVALID_PARAMETER;
            }
            if (e.signaled || (e.deadline >= 0 && e.deadline <= nowNanos)) {
                fire(e);
                return EfiStatus.SUCCESS;
            }
            return EfiStatus.NOT_READY;
        });
        bs.put("Stall", c -> {
            advanceTime(c.arg(0) * 1000);
            return EfiStatus.SUCCESS;
        });
        bs.put("SetWatchdogTimer", c -> EfiStatus.SUCCESS);
    }

    /** Consumes a signal (or a due timer tick) of {@code e}. */
    private void fire(Event e) {
        e.signaled = false;
        if (e.deadline >= 0 && e.deadline <= nowNanos) {
            e.deadline = e.period > 0 ? e.deadline + e.period * Math.max(1, (nowNanos - e.deadline) / e.period + 1) : -1;
        }
    }

    private long createEvent(long type, long eventPtr) {
        if (eventPtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (events.size() > 10_000) {
            return EfiStatus.OUT_OF_RESOURCES;
        }
        long h = machine.fwAlloc(16);
        events.put(h, new Event(type));
        mem.putU64(eventPtr, h);
        return EfiStatus.SUCCESS;
    }

    /** A firmware-owned event (e.g. SimpleTextInput.WaitForKey) that never fires. */
    public long newEvent() {
        long h = machine.fwAlloc(16);
        events.put(h, new Event(0));
        return h;
    }

    // ---------------------------------------------------------------- misc services

    private void registerMiscServices(Map<String, Service> bs) {
        bs.put("InstallConfigurationTable", c -> {
            if (c.arg(0) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            Guid g = mem.guid(c.arg(0));
            if (c.arg(1) == 0) {
                if (configTables.remove(g) == null) {
                    return EfiStatus.NOT_FOUND;
                }
            } else {
                if (!configTables.containsKey(g) && configTables.size() >= MAX_CONFIG_TABLES) {
                    return EfiStatus.OUT_OF_RESOURCES;
                }
                configTables.put(g, c.arg(1));
            }
            updateConfigTables();
            return EfiStatus.SUCCESS;
        });
        bs.put("GetNextMonotonicCount", c -> {
            if (c.arg(0) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            mem.putU64(c.arg(0), ++monotonic);
            return EfiStatus.SUCCESS;
        });
        bs.put("ConnectController", c -> EfiStatus.NOT_FOUND);
        bs.put("DisconnectController", c -> EfiStatus.NOT_FOUND);
        bs.put("CalculateCrc32", c -> {
            // DataSize is a UINTN: compare unsigned, or a size >= 2^63 passes as negative
            if (c.arg(0) == 0 || c.arg(1) == 0 || c.arg(2) == 0 || Long.compareUnsigned(c.arg(1), 64 << 20) > 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            mem.putU32(c.arg(2), crc32(mem.read(c.arg(0), c.arg(1))));
            return EfiStatus.SUCCESS;
        });
        bs.put("CopyMem", c -> {
            long len = c.arg(2);
            if (len > (1L << 30)) {
                throw new EmulationException("CopyMem of " + len + " bytes");
            }
            long d = c.arg(0), s = c.arg(1);
            for (long off = 0; off < len; ) {
                int n = (int) Math.min(len - off, 16 << 20);
                // whole-chunk copy through the host buffer is memmove-safe for a chunk; go backwards on overlap
                long o = d > s && d < s + len ? len - off - n : off;
                mem.write(d + o, mem.read(s + o, n));
                off += n;
            }
            return 0;
        });
        bs.put("SetMem", c -> {
            long len = c.arg(1);
            if (len > (1L << 30)) {
                throw new EmulationException("SetMem of " + len + " bytes");
            }
            mem.fill(c.arg(0), len, (byte) c.arg(2));
            return 0;
        });
        bs.put("ExitBootServices", c -> {
            if (c.arg(1) != memoryMap.mapKey()) {
                options.measurer().exitBootServices(false);
                return EfiStatus.INVALID_PARAMETER;
            }
            options.measurer().exitBootServices(true);
            exitBootServicesDone = true;
            images.onExitBootServices(c.arg(0));
            return EfiStatus.SUCCESS;
        });
    }

    // ---------------------------------------------------------------- running

    /**
     * Runs guest code from {@code rip} until a service stops the machine. Faults, a failing service and the
     * end of the time budget throw {@link EmulationException} with RIP, the faulting address and the last calls.
     */
    public RunResult run(long rip) {
        long left = remainingNanos();
        if (left <= 0) {
            throw new EmulationException(report("time budget of " + options.timeBudgetMillis() + " ms exhausted", rip, -1));
        }
        UnicornCpu cpu = (UnicornCpu) machine.cpu();
        RunResult r = cpu.run(rip, Math.max(1, left / 1000));
        if (machine.failure() != null) {
            throw new EmulationException(report(machine.failure(), r.rip(), -1));
        }
        if (r.faultKind() != null) {
            throw new EmulationException(report(r.faultKind() + " at 0x" + Long.toHexString(r.faultAddress()),
                    r.rip(), r.faultAddress()));
        }
        if (r.interrupt() >= 0) {
            throw new EmulationException(report("CPU exception/interrupt " + r.interrupt() + " ("
                    + vectorName(r.interrupt()) + ")", r.rip(), -1));
        }
        if (r.error() != 0) {
            throw new EmulationException(report(r.errorText(), r.rip(), -1));
        }
        if (!cpu.stopRequested()) {
            throw new EmulationException(report("time budget of " + options.timeBudgetMillis()
                    + " ms exhausted", r.rip(), -1));
        }
        return r;
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

    @Override
    public void close() {
        machine.close();
    }
}
