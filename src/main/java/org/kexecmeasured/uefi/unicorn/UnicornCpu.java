package org.kexecmeasured.uefi.unicorn;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.uefi.spi.RunResult;
import org.kexecmeasured.uefi.spi.RunResult.End;
import org.kexecmeasured.util.ByteViews;

import java.util.EnumMap;
import java.util.Map;

/**
 * {@link Cpu} on Unicorn 2.0.1 (UC_ARCH_X86, UC_MODE_64), on the library {@link EngineLibrary} chose. Hooks:
 * a code hook limited to the trap range, the CPUID instruction hook, interrupts and invalid memory accesses
 * (each ends the run and is reported, but an access to {@link DeferredRam deferred RAM}, which maps it and goes
 * on), a translation hook for the {@link TranslationGuard}, which runs when a block is translated, not when it
 * runs, and a code hook on the head of each {@link CopyLoop} found there. No hook runs on ordinary guest code.
 *
 * <p>How a run ended: Unicorn's {@code uc_emu_start} returns OK both for {@code uc_emu_stop} (from
 * {@link #stop()}, the translation guard, or its timeout thread) and for {@code hlt} (QEMU's EXCP_HLT ends its
 * loop); the first two are told by their own flags, the timeout by {@code uc_query(UC_QUERY_TIMEOUT)}, and what
 * is left is a halt.
 *
 * <p>Host writes to guest memory drop the translated blocks of the range they wrote: Unicorn 2.0.1's
 * {@code uc_mem_write} does not, so code loaded over code that already ran would run stale.
 */
public final class UnicornCpu implements Cpu, GuestMemory {

    private static final Map<Reg, Integer> IDS = new EnumMap<>(Reg.class);

    static {
        IDS.put(Reg.RAX, UnicornLib.REG_RAX);
        IDS.put(Reg.RBX, UnicornLib.REG_RBX);
        IDS.put(Reg.RCX, UnicornLib.REG_RCX);
        IDS.put(Reg.RDX, UnicornLib.REG_RDX);
        IDS.put(Reg.RSI, UnicornLib.REG_RSI);
        IDS.put(Reg.RDI, UnicornLib.REG_RDI);
        IDS.put(Reg.RBP, UnicornLib.REG_RBP);
        IDS.put(Reg.RSP, UnicornLib.REG_RSP);
        IDS.put(Reg.RIP, UnicornLib.REG_RIP);
        IDS.put(Reg.R8, UnicornLib.REG_R8);
        IDS.put(Reg.R9, UnicornLib.REG_R9);
        IDS.put(Reg.R10, UnicornLib.REG_R10);
        IDS.put(Reg.R11, UnicornLib.REG_R11);
        IDS.put(Reg.R12, UnicornLib.REG_R12);
        IDS.put(Reg.R13, UnicornLib.REG_R13);
        IDS.put(Reg.R14, UnicornLib.REG_R14);
        IDS.put(Reg.R15, UnicornLib.REG_R15);
        IDS.put(Reg.RFLAGS, UnicornLib.REG_EFLAGS);
        IDS.put(Reg.CR0, UnicornLib.REG_CR0);
        IDS.put(Reg.CR3, UnicornLib.REG_CR3);
        IDS.put(Reg.CR4, UnicornLib.REG_CR4);
        IDS.put(Reg.CS, UnicornLib.REG_CS);
        IDS.put(Reg.DS, UnicornLib.REG_DS);
        IDS.put(Reg.ES, UnicornLib.REG_ES);
        IDS.put(Reg.SS, UnicornLib.REG_SS);
        IDS.put(Reg.FS, UnicornLib.REG_FS);
        IDS.put(Reg.GS, UnicornLib.REG_GS);
    }

    private final Pointer h;
    private final Memory scratch = new Memory(64);
    private final Memory ioBuf = new Memory(1 << 20);

    // callbacks are kept referenced here: JNA frees unreferenced ones
    private UnicornLib.CodeHook trapHook;
    private UnicornLib.CodeHook blockHook;
    /** Hooks on single addresses, kept reachable: libunicorn holds only a native pointer to each callback. */
    private final java.util.List<UnicornLib.CodeHook> addressHooks = new java.util.ArrayList<>();
    private long blockHookHandle;
    private final UnicornLib.CpuidHook cpuidHook;
    /** I/O port hooks (kept referenced: JNA callbacks must outlive the engine). */
    private final UnicornLib.InHook inHook;
    private final UnicornLib.OutHook outHook;
    private final UnicornLib.IntrHook intrHook;
    private final UnicornLib.EventMemHook memHook;
    private final UnicornLib.EdgeGeneratedHook translationHook;
    private final TranslationGuard guard = new TranslationGuard();
    private final Memory probe = new Memory(Math.max(TranslationGuard.ZERO_PROBE, CopyLoop.MAX_LENGTH));
    /** Heads of the byte-copy loops hooked so far (see {@link CopyLoop}). */
    private final java.util.Set<Long> copyLoopHeads = new java.util.HashSet<>();
    /** Why the translation guard ended the current run, or null. */
    private String guardStop;

    private CpuidHandler cpuidHandler;
    private volatile boolean stopRequested;
    private String faultKind;
    private long faultAddress = -1;
    private long faultRip = -1;
    private int interrupt = -1;
    /** First Throwable thrown by a hook during the current run (JNA would log and swallow it). */
    private Throwable hookFailure;

    public static UnicornLib lib() {
        return EngineLibrary.get().lib();
    }

    public UnicornCpu() {
        lib(); // loads the library and binds UnicornDirect to it
        PointerByReference ref = new PointerByReference();
        check(UnicornDirect.uc_open(UnicornLib.UC_ARCH_X86, UnicornLib.UC_MODE_64, ref), "uc_open");
        h = ref.getValue();
        try {
            intrHook = (p, intno, user) -> {
                try {
                    interrupt = intno;
                    UnicornDirect.uc_emu_stop(h);
                } catch (Throwable t) {
                    hookFailed(t);
                }
            };
            addHook(UnicornLib.UC_HOOK_INTR, intrHook, 1, 0);
            memHook = (p, type, address, size, value, user) -> {
                try {
                    return onInvalidMemory(type, address, size);
                } catch (Throwable t) {
                    hookFailed(t);
                    return false;
                }
            };
            addHook(UnicornLib.UC_HOOK_MEM_INVALID, memHook, 1, 0);
            cpuidHook = (p, user) -> {
                try {
                    return onCpuid();
                } catch (Throwable t) {
                    hookFailed(t);
                    return 1;
                }
            };
            LongByReference hh = new LongByReference();
            check(UnicornDirect.uc_hook_add(h, hh, UnicornLib.UC_HOOK_INSN, cpuidHook, null, 1, 0, UnicornLib.UC_X86_INS_CPUID),
                    "uc_hook_add(CPUID)");
            // No device sits behind any I/O port: reads float to all-ones and writes vanish, as on a bus with
            // nothing decoding the port. Without this hook Unicorn reads 0, which loaders polling legacy timers
            // take for "not expired yet": GRUB's PIT calibration (port 0x61, TMR2 latch) then spins forever,
            // while with all-ones it sees no PIT and calibrates the TSC with Stall instead.
            inHook = (p, port, size, user) -> size == 1 ? 0xff : size == 2 ? 0xffff : -1;
            check(UnicornDirect.uc_hook_add(h, new LongByReference(), UnicornLib.UC_HOOK_INSN, inHook, null, 1, 0,
                    UnicornLib.UC_X86_INS_IN), "uc_hook_add(IN)");
            outHook = (p, port, size, value, user) -> { };
            check(UnicornDirect.uc_hook_add(h, new LongByReference(), UnicornLib.UC_HOOK_INSN, outHook, null, 1, 0,
                    UnicornLib.UC_X86_INS_OUT), "uc_hook_add(OUT)");
            translationHook = (p, cur, prev, user) -> {
                try {
                    onTranslated(cur);
                } catch (Throwable t) {
                    hookFailed(t);
                }
            };
            addHook(UnicornLib.UC_HOOK_EDGE_GENERATED, translationHook, 1, 0);
        } catch (RuntimeException | Error e) {
            UnicornDirect.uc_close(h); // the engine is native memory: close it when construction fails after uc_open
            throw e;
        }
    }

    private boolean onInvalidMemory(int type, long address, int size) {
        if ((type == UnicornLib.UC_MEM_READ_UNMAPPED || type == UnicornLib.UC_MEM_WRITE_UNMAPPED
                || type == UnicornLib.UC_MEM_FETCH_UNMAPPED) && deferred.at(address) != null) {
            // a deferred page: its chunk becomes ordinary RAM and the engine retries the access (which may end in
            // the next chunk, or in another deferred range)
            materializeChunk(address);
            long last = address + Math.max(size, 1) - 1;
            if (deferred.at(last) != null) {
                materializeChunk(last);
            }
            return true;
        }
        faultKind = switch (type) {
            case UnicornLib.UC_MEM_READ_UNMAPPED -> "read of unmapped memory";
            case UnicornLib.UC_MEM_WRITE_UNMAPPED -> "write to unmapped memory";
            case UnicornLib.UC_MEM_FETCH_UNMAPPED -> "instruction fetch from unmapped memory";
            case UnicornLib.UC_MEM_WRITE_PROT -> "write to protected memory";
            case UnicornLib.UC_MEM_READ_PROT -> "read of protected memory";
            case UnicornLib.UC_MEM_FETCH_PROT -> "fetch from non-executable memory";
            default -> "invalid memory access (type " + type + ")";
        };
        faultAddress = address;
        faultRip = reg(Reg.RIP); // Unicorn 2.0.1 reports the start of the translated block here
        return false;
    }

    /** A block was just translated and is about to run: the guard may end the run before it does. */
    private void onTranslated(Pointer tb) {
        long pc = tb.getLong(0); // uc_tb {u64 pc; u16 icount; u16 size}
        int icount = tb.getShort(8) & 0xffff;
        // With a block handler installed (the post-ExitBootServices capture) the handler sees the block
        // first and decides, whatever it holds: no zeroed-memory verdict then.
        byte[] head = null;
        if (blockHook == null) {
            byte[] code = hostRamBytes(pc, CopyLoop.MAX_LENGTH);
            if (code == null && UnicornDirect.uc_mem_read(h, pc, probe, CopyLoop.MAX_LENGTH) == 0) {
                code = probe.getByteArray(0, CopyLoop.MAX_LENGTH);
            }
            if (code != null) {
                head = java.util.Arrays.copyOf(code, TranslationGuard.ZERO_PROBE);
                CopyLoop loop = copyLoopHeads.contains(pc) ? null : CopyLoop.match(pc, code);
                if (loop != null) {
                    hookCopyLoop(loop);
                }
            } else if (UnicornDirect.uc_mem_read(h, pc, probe, TranslationGuard.ZERO_PROBE) == 0) {
                head = probe.getByteArray(0, TranslationGuard.ZERO_PROBE);
            }
        }
        String why = guard.onTranslated(pc, icount, head, System.nanoTime());
        if (why != null && guardStop == null) {
            guardStop = why;
            UnicornDirect.uc_emu_stop(h);
        }
    }

    /**
     * The {@code len} bytes at {@code pc} read straight from the host memory behind guest RAM, or null when the
     * engine may not see them there: outside the RAM mapped by {@link #map} (the trap page is the engine's own
     * memory) or touching a deferred page (unmapped in the engine; its host pages hold older bytes). Where it
     * answers, the engine maps exactly that memory ({@code uc_mem_map_ptr}), so the bytes are the ones it just
     * translated, as {@code uc_mem_read} would give them, without an engine call and its region lookup: the
     * translation hook runs for every block (~550 for a UKI's boot).
     */
    private byte[] hostRamBytes(long pc, int len) {
        RamMap m = ramMapOf(pc, len);
        if (m == null || deferred.overlaps(pc, len)) {
            return null;
        }
        byte[] b = new byte[len];
        m.ram().base.read(pc - m.start(), b, 0, len);
        return b;
    }

    /**
     * From the next time the loop starts, the host does its copy in one step ({@link #onCopyLoop}). The block
     * just translated has no hook yet: it is dropped, so that the engine translates the head again with the hook.
     */
    private void hookCopyLoop(CopyLoop loop) {
        copyLoopHeads.add(loop.head());
        UnicornLib.CodeHook hook = new CopyLoopHook(loop);
        addressHooks.add(hook);
        addHook(UnicornLib.UC_HOOK_CODE, hook, loop.head(), loop.head());
        removeTranslations(loop.head(), loop.head() + 1);
    }

    /** The hook at a copy loop's head (a named class, archived by name: see {@link Walk}). */
    private final class CopyLoopHook implements UnicornLib.CodeHook {
        private final CopyLoop loop;

        CopyLoopHook(CopyLoop loop) {
            this.loop = loop;
        }

        @Override
        public void invoke(Pointer p, long a, int size, Pointer user) {
            try {
                onCopyLoop(loop);
            } catch (Throwable t) {
                hookFailed(t);
            }
        }
    }

    /** Copy loops the host ran (for tests: the engine would give the same bytes, only slower). */
    long loopCopies;

    /** Largest copy a loop hands to the host at once (larger ones run in the engine, as before). */
    static final long MAX_LOOP_COPY = 1L << 30;

    /**
     * At the head of a {@link CopyLoop}: the host copies what the loop would and leaves the registers as the loop
     * leaves them. Copies the host cannot do the same way (a destination inside the source above it, ranges not
     * all RAM, a count that wraps) run in the engine.
     */
    private void onCopyLoop(CopyLoop l) {
        long i = reg(CopyLoop.reg(l.i()));
        long n = reg(CopyLoop.reg(l.n()));
        long count = n - i;
        if (count <= 0 || count > MAX_LOOP_COPY) {
            return;
        }
        long src = reg(CopyLoop.reg(l.s())) + i;
        long dst = reg(CopyLoop.reg(l.d())) + i;
        if (Long.compareUnsigned(dst, src) > 0 && Long.compareUnsigned(dst, src + count) < 0) {
            return;
        }
        if (!isMapped(src, count) || !isGuestWritable(dst, count)) {
            // the engine faults where the loop would: unmapped memory, and the read-execute trap page (the host's
            // write refuses it too, but as a host error: the guest's own store is a fault at the loop's address)
            return;
        }
        byte[] last = new byte[1];
        read(src + count - 1, last, 0, 1); // what the last iteration reads: the source's own byte (writes land below)
        copy(dst, src, count);
        loopCopies++;
        setReg(CopyLoop.reg(l.t()), last[0] & 0xffL);
        setReg(CopyLoop.reg(l.i()), n);
        // cmp of equal values: ZF and PF set; CF, AF, SF, OF clear
        setReg(Reg.RFLAGS, (reg(Reg.RFLAGS) & ~0x8D5L) | 0x44L);
        setReg(Reg.RIP, l.exit());
    }

    private int onCpuid() {
        CpuidHandler ch = cpuidHandler;
        if (ch == null) {
            return 0;
        }
        try {
            int[] out = new int[4];
            ch.cpuid((int) reg(Reg.RAX), (int) reg(Reg.RCX), out);
            setReg(Reg.RAX, out[0] & 0xffffffffL);
            setReg(Reg.RBX, out[1] & 0xffffffffL);
            setReg(Reg.RCX, out[2] & 0xffffffffL);
            setReg(Reg.RDX, out[3] & 0xffffffffL);
            return 1;
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /**
     * Records a Throwable escaping a hook and stops the run. JNA's default callback exception handler only
     * logs it and returns, so Unicorn would go on with the service half done (RAX unset); {@link #run}
     * reports it as {@link End#HOST_ERROR} instead.
     */
    private void hookFailed(Throwable t) {
        if (hookFailure == null) {
            hookFailure = t;
        } else if (hookFailure != t) {
            hookFailure.addSuppressed(t);
        }
        try {
            UnicornDirect.uc_emu_stop(h);
        } catch (Throwable ignored) {
            // the failure is recorded; run() reports it once uc_emu_start returns
        }
    }

    private long addHook(int type, com.sun.jna.Callback cb, long begin, long end) {
        LongByReference hh = new LongByReference();
        check(UnicornDirect.uc_hook_add(h, hh, type, cb, null, begin, end), "uc_hook_add");
        return hh.getValue();
    }

    private void check(int err, String what) {
        if (err != 0) {
            throw new IllegalStateException(what + ": " + UnicornDirect.uc_strerror(err) + " (" + err + ")");
        }
    }

    @Override
    public long reg(Reg r) {
        check(UnicornDirect.uc_reg_read(h, IDS.get(r), scratch), "uc_reg_read " + r);
        return scratch.getLong(0);
    }

    @Override
    public void setReg(Reg r, long value) {
        scratch.setLong(0, value);
        check(UnicornDirect.uc_reg_write(h, IDS.get(r), scratch), "uc_reg_write " + r);
    }

    @Override
    public byte[] xmm(int n) {
        check(UnicornDirect.uc_reg_read(h, UnicornLib.REG_XMM0 + n, scratch), "uc_reg_read XMM" + n);
        return scratch.getByteArray(0, 16);
    }

    @Override
    public void setXmm(int n, byte[] value) {
        scratch.write(0, value, 0, 16);
        check(UnicornDirect.uc_reg_write(h, UnicornLib.REG_XMM0 + n, scratch), "uc_reg_write XMM" + n);
    }

    @Override
    public long msr(int index) {
        scratch.clear(16);
        scratch.setInt(0, index);
        check(UnicornDirect.uc_reg_read(h, UnicornLib.REG_MSR, scratch), "read MSR 0x" + Integer.toHexString(index));
        return scratch.getLong(8);
    }

    @Override
    public void setMsr(int index, long value) {
        scratch.clear(16);
        scratch.setInt(0, index);
        scratch.setLong(8, value);
        check(UnicornDirect.uc_reg_write(h, UnicornLib.REG_MSR, scratch), "write MSR 0x" + Integer.toHexString(index));
    }

    private void setMmr(int reg, long base, int limit) {
        // uc_x86_mmr {u16 selector; u64 base @8; u32 limit @16; u32 flags @20}
        scratch.clear(24);
        scratch.setLong(8, base);
        scratch.setInt(16, limit);
        check(UnicornDirect.uc_reg_write(h, reg, scratch), "uc_reg_write MMR");
    }

    @Override
    public void setGdtr(long base, int limit) {
        setMmr(UnicornLib.REG_GDTR, base, limit);
    }

    @Override
    public void setIdtr(long base, int limit) {
        setMmr(UnicornLib.REG_IDTR, base, limit);
    }

    /** Mapped ranges {start, end} sorted by start (for range checks before host allocations). */
    private final java.util.List<long[]> mapped = new java.util.ArrayList<>();

    /** The ranges of {@link #mapped} the guest may write ({@link #map}'s RAM), sorted the same way. */
    private final java.util.List<long[]> writable = new java.util.ArrayList<>();

    private static void record(java.util.List<long[]> ranges, long address, long size) {
        ranges.add(new long[]{address, address + size});
        ranges.sort((a, b) -> Long.compareUnsigned(a[0], b[0]));
    }

    @Override
    public boolean isMapped(long address, long len) {
        return covered(mapped, address, len);
    }

    /**
     * RAM from {@link #map}, deferred pages included (they stay in {@link #ramMaps}); not the read-execute
     * mappings, which {@code uc_mem_write} would change all the same: {@link #write} asks this first.
     */
    @Override
    public boolean isGuestWritable(long address, long len) {
        return covered(writable, address, len);
    }

    /** Whether {@code ranges} ({start, end}, sorted by start) cover all of [address, address + len). */
    private static boolean covered(java.util.List<long[]> ranges, long address, long len) {
        if (len == 0) {
            return true;
        }
        long end = address + len;
        if (Long.compareUnsigned(end, address) < 0) {
            return false; // wraps
        }
        long at = address;
        for (long[] r : ranges) {
            if (Long.compareUnsigned(r[0], at) <= 0 && Long.compareUnsigned(at, r[1]) < 0) {
                at = r[1];
                if (Long.compareUnsigned(at, end) >= 0) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Host memory behind the RAM mapped by {@link #map}; freed after the engine is closed. */
    private final java.util.List<HostRam> hostRam = new java.util.ArrayList<>();

    /**
     * Guest RAM is given to the engine in regions of at most this size (aligned to it). Unicorn's uc_mem_unmap
     * of part of a region unmaps the whole region (and maps the rest again), flushing the TLB entry of every page of
     * it one by one (uc.c split_region, memory_unmap): each payload section deferred inside one 1 GiB region cost
     * 262,144 page flushes; the four deferrals of a 60 MiB UKI's boot took 42-46 CPU-ms in uc_mem_unmap (load ~10),
     * in 32 MiB regions 5 ms. Split, a deferral flushes only the regions it meets; the guest sees one RAM range
     * (accesses and translated blocks cross region ends as they cross pages).
     */
    static final long MAP_PIECE = 32L << 20;

    /** Guest RAM on {@link HostRam} (huge pages where offered): far fewer first-touch page faults. */
    @Override
    public void map(long address, long size) {
        HostRam ram = new HostRam(size);
        hostRam.add(ram); // freed by close() even if a piece below fails to map
        for (long at = address; at < address + size; ) {
            long end = Math.min(address + size, (at & -MAP_PIECE) + MAP_PIECE);
            check(UnicornDirect.uc_mem_map_ptr(h, at, end - at, UnicornLib.UC_PROT_ALL, ram.base.share(at - address)),
                    "uc_mem_map_ptr 0x" + Long.toHexString(at) + "+0x" + Long.toHexString(end - at));
            at = end;
        }
        ramMaps.add(new RamMap(address, address + size, ram));
        record(mapped, address, size);
        record(writable, address, size);
    }

    /** Guest RAM [start, end) on {@code ram} (from its base). */
    private record RamMap(long start, long end, HostRam ram) {
        Pointer at(long address) {
            return ram.base.share(address - start);
        }
    }

    private final java.util.List<RamMap> ramMaps = new java.util.ArrayList<>();

    private RamMap ramMapOf(long address, long len) {
        for (RamMap m : ramMaps) {
            if (address >= m.start() && len <= m.end() - address) {
                return m;
            }
        }
        return null;
    }

    /** Guest RAM pages whose content is still only in a host buffer: see {@link #place}. */
    private final DeferredRam deferred = new DeferredRam();

    /** Content of at least this many bytes is deferred by {@link #place}; less is written at once. */
    static final long DEFER_AT_LEAST = 1L << 20;

    /**
     * Deferred: the whole pages of the range stay unmapped in the engine and hold {@code content}'s bytes for
     * the host ({@link #read}, {@link #readPieces}) until the guest touches them or the host writes to them; then
     * the chunk around the access is copied into host RAM and mapped. The parts before the first and after the
     * last whole page are written at once. {@code content} must not change while the engine lives.
     */
    @Override
    public void place(long address, java.nio.ByteBuffer content) {
        long len = content.remaining();
        long ps = (address + DeferredRam.PAGE - 1) & -DeferredRam.PAGE;
        long pe = (address + len) & -DeferredRam.PAGE;
        if (len < DEFER_AT_LEAST || pe - ps < DEFER_AT_LEAST || ramMapOf(address, len) == null) {
            GuestMemory.super.place(address, content);
            return;
        }
        java.nio.ByteBuffer c = content.slice();
        GuestMemory.super.place(address, c.slice(0, (int) (ps - address)));
        GuestMemory.super.place(pe, c.slice((int) (pe - address), (int) (address + len - pe)));
        // not wrapped read-only (nothing here writes to it): a heap array stays visible, so a view of it is known
        // to be the same memory as the placement's (placedContent)
        defer(ps, pe, c.slice((int) (ps - address), (int) (pe - ps)));
        placements.put(address, new Placed(address, c));
    }

    /** Large page-aligned buffers become deferred zeros: host memory only for the pages the guest then uses. */
    @Override
    public void zeroPages(long address, long len) {
        if (len < DEFER_AT_LEAST || address % DeferredRam.PAGE != 0 || len % DeferredRam.PAGE != 0
                || ramMapOf(address, len) == null) {
            GuestMemory.super.zeroPages(address, len);
            return;
        }
        defer(address, address + len, java.nio.ByteBuffer.allocate(0));
    }

    /**
     * A copy of deferred content (a payload section) into deferred zeros (a buffer from {@link #zeroPages}) is
     * bookkeeping only: the destination's pages are deferred with the same bytes, nothing is read or written (but
     * a last partial page of the source, which is RAM). A
     * systemd-stub serving its {@code .initrd} through LoadFile2 copies 50 MiB and more that way at the cut-over.
     * Any other copy goes through host memory.
     */
    @Override
    public void copy(long dst, long src, long len) {
        if (len >= DEFER_AT_LEAST && dst % DeferredRam.PAGE == 0) {
            DeferredRam.Range s = deferred.at(src);
            long end = (dst + len + DeferredRam.PAGE - 1) & -DeferredRam.PAGE;
            // the deferred part of the source (a section's whole pages; its last partial page is RAM)
            long k = s == null ? 0 : Math.min(len, s.start() + s.content().remaining() - src);
            if (k >= DEFER_AT_LEAST && deferred.zerosThroughout(dst, end)) {
                deferred.take(dst, end);
                deferred.add(new DeferredRam.Range(dst, end, s.content().slice((int) (src - s.start()), (int) k)));
                if (k < len) {
                    GuestMemory.super.copy(dst + k, src + k, len - k); // the rest through RAM
                }
                return;
            }
        }
        GuestMemory.super.copy(dst, src, len);
    }

    /** Unmaps the whole pages [ps, pe) from the engine and defers them with {@code content}. */
    private void defer(long ps, long pe, java.nio.ByteBuffer content) {
        materialize(ps, pe); // what was deferred there before is replaced: take it out first
        dropTranslations(ps, pe); // code translated from the old bytes
        check(UnicornDirect.uc_mem_unmap(h, ps, pe - ps), "uc_mem_unmap 0x" + Long.toHexString(ps) + "+0x"
                + Long.toHexString(pe - ps));
        deferred.add(new DeferredRam.Range(ps, pe, content));
    }

    private static final java.nio.ByteBuffer ZEROS = java.nio.ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();

    /** Makes the deferred chunk around {@code address} ordinary RAM. */
    private void materializeChunk(long address) {
        long[] c = DeferredRam.chunkAround(deferred.at(address), address);
        materialize(c[0], c[1]);
    }

    /** Copies the deferred pages of [from, to) into host RAM and maps them (nothing for pages not deferred). */
    private void materialize(long from, long to) {
        long ps = from & -DeferredRam.PAGE;
        long pe = (to + DeferredRam.PAGE - 1) & -DeferredRam.PAGE;
        for (DeferredRam.Range r : deferred.take(ps, pe)) {
            long len = r.end() - r.start();
            RamMap m = ramMapOf(r.start(), len);
            touched(r.start(), r.end());
            java.nio.ByteBuffer host = m.at(r.start()).getByteBuffer(0, len);
            host.put(r.content().duplicate());
            while (host.hasRemaining()) { // the zeros after the content (host pages may hold older bytes)
                host.put(ZEROS.duplicate().limit(Math.min(ZEROS.capacity(), host.remaining())));
            }
            check(UnicornDirect.uc_mem_map_ptr(h, r.start(), len, UnicornLib.UC_PROT_ALL, m.at(r.start())),
                    "uc_mem_map_ptr 0x" + Long.toHexString(r.start()) + "+0x" + Long.toHexString(len));
        }
    }

    /**
     * What {@link #place} deferred: the guest address of the content's first byte and the whole content, by that
     * address. Its deferred pages are the content itself; its partial first and last pages, and every chunk the
     * guest touched since, are ordinary RAM, which {@link #placedContent} compares with the content.
     */
    private record Placed(long address, java.nio.ByteBuffer content) {
    }

    private final java.util.TreeMap<Long, Placed> placements = new java.util.TreeMap<>();

    /**
     * A view of placed content when every byte of [address, address + len) is that content's now: its deferred
     * parts by memory identity (pages the guest has not touched; the content never changes while the engine lives),
     * the rest — the content's partial first and last pages, chunks the guest touched — by comparing guest RAM with
     * the content. A guest that read its section (a stub looking at the kernel's header) still gets the view; one
     * that changed a byte does not.
     */
    @Override
    public java.nio.ByteBuffer placedContent(long address, long len) {
        Map.Entry<Long, Placed> e = len <= 0 ? null : placements.floorEntry(address);
        if (e == null || len > e.getValue().address() + e.getValue().content().remaining() - address
                || !isMapped(address, len)) {
            return null;
        }
        Placed p = e.getValue();
        java.nio.ByteBuffer view = p.content().slice((int) (address - p.address()), (int) len);
        long at = address;
        for (DeferredRam.Range r : deferred.within(address, len)) {
            if (r.start() > at && !ramHolds(at, view, at - address, r.start() - at)) {
                return null;
            }
            long n = r.end() - r.start();
            // deferred: the placement's own bytes only if the range's content is that very memory (no zeros after it)
            if (r.content().remaining() != n || !ByteViews.sameMemory(r.content(),
                    view.slice((int) (r.start() - address), (int) n))) {
                return null;
            }
            at = r.end();
        }
        if (at < address + len && !ramHolds(at, view, at - address, address + len - at)) {
            return null;
        }
        return view.asReadOnlyBuffer();
    }

    /** Buffer of {@link #ramHolds}. */
    private byte[] compareBuf;

    /**
     * Whether guest RAM [at, at + n) holds the bytes of {@code view} from {@code off}. RAM from {@link #map} (none of
     * it deferred) is the engine's memory itself, on host memory: compared where it is ({@link ByteViews#holds}:
     * {@code memcmp} for a mapped payload), nothing copied: the 312 KiB a 60 MiB UKI's stub had touched of its
     * {@code .linux} took ~3 main-thread CPU-ms through the engine and C1's comparison loop, ~0.2 ms so.
     * Other memory is read through the engine into a buffer and compared piece by piece.
     */
    private boolean ramHolds(long at, java.nio.ByteBuffer view, long off, long n) {
        RamMap m = ramMapOf(at, n);
        if (m != null && !deferred.overlaps(at, n)) {
            return ByteViews.holds(m.at(at), view.slice((int) off, (int) n));
        }
        if (compareBuf == null) {
            compareBuf = new byte[64 << 10];
        }
        for (long d = 0; d < n; d += compareBuf.length) {
            int k = (int) Math.min(compareBuf.length, n - d);
            engineRead(at + d, compareBuf, 0, k);
            if (!java.nio.ByteBuffer.wrap(compareBuf, 0, k).equals(view.slice((int) (off + d), k))) {
                return false;
            }
        }
        return true;
    }

    /** The content goes in by the engine's own write, the one host write that skips {@link #isGuestWritable}. */
    @Override
    public void mapReadExecute(long address, byte[] content) {
        long size = content.length;
        check(UnicornDirect.uc_mem_map(h, address, size, UnicornLib.UC_PROT_READ | UnicornLib.UC_PROT_EXEC),
                "uc_mem_map 0x" + Long.toHexString(address) + "+0x" + Long.toHexString(size));
        record(mapped, address, size);
        engineWrite(address, content, 0, content.length);
    }

    @Override
    public GuestMemory memory() {
        return this;
    }

    @Override
    public void read(long address, byte[] dst, int off, int len) {
        if (deferred.overlaps(address, len)) {
            readAround(address, len, new IntoArray(address, dst, off));
            return;
        }
        engineRead(address, dst, off, len);
    }

    /**
     * What {@link #readAround} does with each part of a range. Named classes, not lambdas: these run only when a
     * read meets deferred memory (a large payload's boot), which the build's class-data-sharing training does not
     * do, and a lambda's class is spun at run time (~1 CPU-ms each on the boot's main thread), while a named one is
     * archived by name (cli/cds-classes.txt).
     */
    private interface Walk {
        /** [address, address + len) is in the engine. */
        void engine(long address, long len);

        /** Deferred content at {@code address}. */
        void content(long address, java.nio.ByteBuffer bytes);

        /** [address, address + len) is deferred zeros. */
        void zeros(long address, long len);
    }

    /** {@link #read}: into {@code dst} from {@code off}, which holds guest memory from {@code from}. */
    private final class IntoArray implements Walk {
        private final long from;
        private final byte[] dst;
        private final int off;

        IntoArray(long from, byte[] dst, int off) {
            this.from = from;
            this.dst = dst;
            this.off = off;
        }

        @Override
        public void engine(long a, long n) {
            engineRead(a, dst, off + (int) (a - from), (int) n);
        }

        @Override
        public void content(long a, java.nio.ByteBuffer b) {
            b.get(dst, off + (int) (a - from), b.remaining());
        }

        @Override
        public void zeros(long a, long n) {
            java.util.Arrays.fill(dst, off + (int) (a - from), off + (int) (a - from + n), (byte) 0);
        }
    }

    /** {@link #readPieces}: deferred content goes to the consumer as the host buffer's own bytes (nothing copied). */
    private final class AsPieces implements Walk {
        private final java.util.function.Consumer<java.nio.ByteBuffer> piece;

        AsPieces(java.util.function.Consumer<java.nio.ByteBuffer> piece) {
            this.piece = piece;
        }

        @Override
        public void engine(long a, long n) {
            enginePieces(a, n, piece);
        }

        @Override
        public void content(long a, java.nio.ByteBuffer b) {
            for (int o = 0; o < b.remaining(); o += PIECE) {
                piece.accept(b.slice(o, Math.min(PIECE, b.remaining() - o)).asReadOnlyBuffer());
            }
        }

        @Override
        public void zeros(long a, long n) {
            for (long o = 0; o < n; o += PIECE) {
                piece.accept(java.nio.ByteBuffer.allocate((int) Math.min(PIECE, n - o)).asReadOnlyBuffer());
            }
        }
    }

    /**
     * Walks [address, address + len) in order: parts in the engine, deferred content (a duplicate of the host
     * buffer's slice), and the zeros after a deferred range's content. Throws when the range is not all RAM.
     */
    private void readAround(long address, long len, Walk walk) {
        if (len < 0 || !isMapped(address, len)) {
            throw new GuestMemoryException("read of 0x" + Long.toHexString(len) + " bytes at 0x"
                    + Long.toHexString(address) + " outside guest RAM", address);
        }
        long at = address;
        for (DeferredRam.Range r : deferred.within(address, len)) {
            if (r.start() > at) {
                walk.engine(at, r.start() - at);
            }
            java.nio.ByteBuffer b = r.content().duplicate();
            if (b.hasRemaining()) {
                walk.content(r.start(), b);
            }
            long z = r.start() + r.content().remaining();
            if (z < r.end()) {
                walk.zeros(z, r.end() - z);
            }
            at = r.end();
        }
        if (at < address + len) {
            walk.engine(at, address + len - at);
        }
    }

    private void engineRead(long address, byte[] dst, int off, int len) {
        int done = 0;
        while (done < len) {
            int n = (int) Math.min(ioBuf.size(), len - done);
            int err = UnicornDirect.uc_mem_read(h, address + done, ioBuf, n);
            if (err != 0) {
                throw new GuestMemoryException("read of " + len + " bytes at 0x" + Long.toHexString(address)
                        + " outside guest RAM", address);
            }
            ioBuf.read(0, dst, off + done, n);
            done += n;
        }
    }

    /** Native memory the pieces of {@link #readPieces} are read into (its own: a consumer may read guest memory). */
    private Memory pieceBuf;

    /** Pieces straight from the engine into native memory: no Java array, nothing copied twice. */
    @Override
    public void readPieces(long address, long len, java.util.function.Consumer<java.nio.ByteBuffer> piece) {
        if (len < 0 || !isMapped(address, len)) {
            throw new GuestMemoryException("read of 0x" + Long.toHexString(len) + " bytes at 0x"
                    + Long.toHexString(address) + " outside guest RAM", address);
        }
        if (pieceBuf == null) {
            pieceBuf = new Memory(PIECE);
        }
        if (deferred.overlaps(address, len)) {
            readAround(address, len, new AsPieces(piece));
            return;
        }
        enginePieces(address, len, piece);
    }

    private void enginePieces(long address, long len, java.util.function.Consumer<java.nio.ByteBuffer> piece) {
        for (long done = 0; done < len; ) {
            int n = (int) Math.min(PIECE, len - done);
            if (UnicornDirect.uc_mem_read(h, address + done, pieceBuf, n) != 0) {
                throw new GuestMemoryException("read of " + len + " bytes at 0x" + Long.toHexString(address)
                        + " outside guest RAM", address);
            }
            piece.accept(pieceBuf.getByteBuffer(0, n).asReadOnlyBuffer());
            done += n;
        }
    }

    /**
     * Checked first: {@code uc_mem_write} ignores page protections, so without {@link #isGuestWritable} a service
     * writing for the guest (SetMem, an output pointer) would patch the read-execute trap page for it.
     */
    @Override
    public void write(long address, byte[] src, int off, int len) {
        if (!isGuestWritable(address, len)) {
            throw notWritable("write", address, len);
        }
        if (deferred.overlaps(address, len)) {
            materialize(address, address + len); // the host writes into deferred pages: they become RAM first
        }
        engineWrite(address, src, off, len);
    }

    private void engineWrite(long address, byte[] src, int off, int len) {
        int done = 0;
        while (done < len) {
            int n = (int) Math.min(ioBuf.size(), len - done);
            ioBuf.write(0, src, off + done, n);
            int err = UnicornDirect.uc_mem_write(h, address + done, ioBuf, n);
            if (err != 0) {
                throw new GuestMemoryException("write of " + len + " bytes at 0x" + Long.toHexString(address)
                        + " outside guest RAM", address);
            }
            done += n;
        }
        if (len > 0) {
            touched(address, address + len);
            dropTranslations(address, address + len);
        }
    }

    /** Whether the engine ever started running: before that no block is translated. */
    private boolean started;

    /**
     * Before the first run, every range of guest RAM the host has written (start to end, disjoint, adjacent ones
     * merged): with the engine not yet started, the only writes RAM can have had since {@link #map} gave it fresh
     * anonymous (zero) host memory. Not kept once the guest runs: then nothing is untouched any more.
     */
    private final java.util.TreeMap<Long, Long> touchedBeforeRun = new java.util.TreeMap<>();

    private void touched(long from, long to) {
        if (started || to <= from) {
            return;
        }
        Map.Entry<Long, Long> before = touchedBeforeRun.floorEntry(from);
        if (before != null && before.getValue() >= from) {
            from = before.getKey();
            to = Math.max(to, before.getValue());
        }
        for (Map.Entry<Long, Long> e = touchedBeforeRun.ceilingEntry(from); e != null && e.getKey() <= to;
             e = touchedBeforeRun.ceilingEntry(from)) {
            to = Math.max(to, e.getValue());
            touchedBeforeRun.remove(e.getKey());
        }
        touchedBeforeRun.put(from, to);
    }

    /**
     * True only before the first run, for RAM from {@link #map} (fresh anonymous memory: zeros) that no host write
     * has touched and that is not deferred (its pages hold content elsewhere).
     */
    @Override
    public boolean untouchedZeros(long address, long len) {
        if (started || len <= 0 || ramMapOf(address, len) == null || deferred.overlaps(address, len)) {
            return false;
        }
        Map.Entry<Long, Long> e = touchedBeforeRun.floorEntry(address + len - 1);
        return e == null || e.getValue() <= address;
    }

    /**
     * Drops the translated blocks of [from, to): code written by the host (images, relocations, service results)
     * must be translated afresh. Nothing to drop before the first run, when the engine has translated nothing: the
     * set-up's ~200 host writes (tables, protocols, the image) skip the call (each a page walk in the engine).
     */
    private void dropTranslations(long from, long to) {
        if (started) {
            removeTranslations(from, to);
        }
    }

    /** Drops the engine's translated blocks of [from, to); a refusal ends the run (stale code must never run). */
    private void removeTranslations(long from, long to) {
        int err = UnicornDirect.uc_ctl(h, UnicornLib.UC_CTL_TB_REMOVE_CACHE_WRITE, from, to);
        if (err != 0) { // the message built only then: this runs at every host write after the first run
            check(err, "uc_ctl(TB_REMOVE_CACHE) of [0x" + Long.toHexString(from) + ", 0x" + Long.toHexString(to) + ")");
        }
    }

    @Override
    public RunResult run(long begin, long timeoutMicros) {
        started = true;
        touchedBeforeRun.clear();
        stopRequested = false;
        faultKind = null;
        faultAddress = -1;
        faultRip = -1;
        interrupt = -1;
        hookFailure = null;
        guardStop = null;
        long t0 = System.nanoTime();
        int err = UnicornDirect.uc_emu_start(h, begin, 0, timeoutMicros, 0);
        long el = (System.nanoTime() - t0) / 1000;
        Throwable hf = hookFailure;
        hookFailure = null;
        long rip = faultRip >= 0 ? faultRip : reg(Reg.RIP);
        if (hf != null) {
            return new RunResult(End.HOST_ERROR, rip, null, -1, -1, hf, el);
        }
        if (faultKind != null) {
            return new RunResult(End.MEMORY_FAULT, rip, faultKind, faultAddress, -1, null, el);
        }
        if (interrupt >= 0) {
            return new RunResult(End.CPU_EXCEPTION, rip, null, -1, interrupt, null, el);
        }
        if (guardStop != null) {
            return new RunResult(End.RUNAWAY_CODE, rip, guardStop, -1, -1, null, el);
        }
        if (err != UnicornLib.UC_ERR_OK) {
            return new RunResult(End.ENGINE_ERROR, rip, UnicornDirect.uc_strerror(err) + " (" + err + ")", -1, -1, null, el);
        }
        if (stopRequested) {
            return new RunResult(End.STOPPED, rip, null, -1, -1, null, el);
        }
        if (timedOut()) {
            return new RunResult(End.TIMED_OUT, rip, null, -1, -1, null, el);
        }
        return new RunResult(End.HALTED, hltAddress(rip), null, -1, -1, null, el);
    }

    private boolean timedOut() {
        LongByReference r = new LongByReference(); // size_t
        check(UnicornDirect.uc_query(h, UnicornLib.UC_QUERY_TIMEOUT, r), "uc_query(UC_QUERY_TIMEOUT)");
        return r.getValue() != 0;
    }

    /** QEMU leaves RIP after the {@code hlt} (helper_hlt adds the instruction length): the hlt's own address. */
    private long hltAddress(long rip) {
        try {
            byte[] b = new byte[1];
            read(rip - 1, b, 0, 1);
            return (b[0] & 0xff) == 0xF4 ? rip - 1 : rip;
        } catch (GuestMemoryException e) {
            return rip;
        }
    }

    @Override
    public void stop() {
        stopRequested = true; // read by run(): a requested stop, not the timeout or a halt
        UnicornDirect.uc_emu_stop(h);
    }

    @Override
    public void setTrapRange(long begin, long end, TrapHandler handler) {
        trapHook = (p, address, size, user) -> {
            try {
                handler.trap(address);
            } catch (Throwable t) {
                hookFailed(t);
            }
        };
        addHook(UnicornLib.UC_HOOK_CODE, trapHook, begin, end);
    }

    @Override
    public void addCodeHook(long address, TrapHandler handler) {
        UnicornLib.CodeHook hook = (p, a, size, user) -> {
            try {
                handler.trap(a);
            } catch (Throwable t) {
                hookFailed(t);
            }
        };
        addressHooks.add(hook);
        addHook(UnicornLib.UC_HOOK_CODE, hook, address, address);
    }

    @Override
    public void setCpuidHandler(CpuidHandler handler) {
        this.cpuidHandler = handler;
    }

    @Override
    public void setBlockHandler(BlockHandler handler) {
        if (blockHook != null) {
            UnicornDirect.uc_hook_del(h, blockHookHandle);
            blockHook = null;
        }
        if (handler != null) {
            blockHook = (p, address, size, user) -> {
                try {
                    handler.block(address, size);
                } catch (Throwable t) {
                    hookFailed(t);
                }
            };
            blockHookHandle = addHook(UnicornLib.UC_HOOK_BLOCK, blockHook, 1, 0);
        }
    }

    @Override
    public void close() {
        UnicornDirect.uc_close(h);
        for (HostRam r : hostRam) { // after the engine: it maps them until uc_close (a loop: no lambda class to spin)
            r.close();
        }
        hostRam.clear();
    }
}
