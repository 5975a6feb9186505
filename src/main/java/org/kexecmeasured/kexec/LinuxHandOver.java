package org.kexecmeasured.kexec;

import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Le;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Resume of a Linux kernel: the boot_params its EFI stub built in the emulator are pointed at the real machine, as
 * kexec-tools does for {@code kexec_load} (setup_efi_info, setup_efi_data), and the next kernel's TPM event log is
 * the continued log.
 *
 * <p>What changes in the captured boot_params (found at RSI of the stub's jump into the kernel):
 * <ul>
 *   <li>efi_info: efi_systab = the real system table; efi_memmap = the real runtime map (40-byte descriptors,
 *   version 1) — the next kernel maps those regions at the virtual addresses the first kernel gave them and does not
 *   call SetVirtualAddressMap again (arch/x86/platform/efi: kexec_enter_virtual_mode, because SETUP_EFI is there);</li>
 *   <li>hdr.setup_data: a SETUP_EFI node first (fw_vendor, runtime, smbios of the real firmware, and {@code tables}
 *   = a copy of the real configuration table), the stub's own chain after it;</li>
 *   <li>e820_table = the real firmware memory map (/sys/firmware/memmap, as kexec-tools), not the one the stub made
 *   from the emulated memory map (which knows only the emulated quarter of RAM);</li>
 *   <li>screen_info cleared (the emulated GOP's frame buffer is not a device of this machine); secure_boot = the real
 *   boot's.</li>
 * </ul>
 *
 * <p>The configuration-table copy has the real table's entries in the real order and count (the next kernel takes
 * nr_tables from the real system table): the LINUX_EFI_TPM_EVENT_LOG entry points at a struct linux_efi_tpm_eventlog
 * holding the continued log (version EFI_TCG2_EVENT_LOG_FORMAT_TCG_2, final_events_preboot_size 0), and the final
 * events table entry (EFI_TCG2_FINAL_EVENTS_TABLE_GUID) points at an empty final events table (version 1, no events).
 * Why empty: the next kernel's tpm_read_log_efi appends the final events table's events beyond
 * final_events_preboot_size to the log; the continued log already holds every event of the real one (the first
 * kernel's binary_bios_measurements, the base of the continued log, is the stub's log plus those events), so an
 * empty table makes the next kernel's binary_bios_measurements exactly the continued log. No entry is added: without
 * a LINUX_EFI_TPM_EVENT_LOG entry in the real table (the first kernel's stub found no TPM log) the hand-over is
 * refused.
 *
 * <p>Where the data lives: all of it — efi_setup_data, the table copy, the final events table, the log and the
 * runtime map — is the payload of that one SETUP_EFI setup_data node, in a new segment in free emulated RAM (real
 * System RAM). The next kernel reserves every setup_data node before its first allocation
 * (memblock_x86_reserve_range_setup_data, e820__reserve_setup_data), and reserves the log and the memory map once more
 * itself (efi_tpm_eventlog_init, efi_memblock_x86_reserve_range), so the log and the table copy survive its boot and
 * stay where its {@code /sys/firmware/efi/config_table} says. The kernel reads only the first 96 bytes of SETUP_EFI's
 * payload (parse_setup_data → efi_setup = the payload's address); the rest is opaque to it.
 */
public final class LinuxHandOver {

    private LinuxHandOver() {
    }

    /** The data segment and the offsets of its parts (relative to {@link #address}). */
    public record Blob(long address, byte[] data, int tablesOffset, int finalEventsOffset, int logOffset,
                       int memmapOffset, int memmapSize) {
    }

    /**
     * The state with boot_params rewritten and the hand-over's data segment added.
     *
     * @param state the capture at the stub's jump into the kernel ({@link PostEbsState.Point#KERNEL_ENTRY})
     * @param ram   the emulated RAM layout (real System RAM) the data segment may go into
     * @param efi   the real firmware's facts
     * @param log   the continued event log (crypto-agile, the sidecar's {@code tpm2-event-log.bin})
     */
    public static PostEbsState apply(PostEbsState state, List<RamRange> ram, HostEfi efi, byte[] log) {
        if (state.point() != PostEbsState.Point.KERNEL_ENTRY) {
            throw new IllegalArgumentException("the Linux hand-over needs the state at the stub's jump into the kernel");
        }
        long bp = state.bootParams();
        List<PostEbsState.Segment> segs = new ArrayList<>(state.segments());
        int bpSeg = segmentHolding(segs, bp, LinuxAbi.BOOT_PARAMS_SIZE);
        if (bpSeg < 0) {
            throw new BadInputException("RSI at the kernel entry (0x" + Long.toHexString(bp) + ") is not a boot_params "
                    + "page the payload allocated: the payload did not enter a Linux kernel through the boot protocol");
        }
        PostEbsState.Segment holder = segs.get(bpSeg);
        byte[] data = holder.data().clone();
        int at = (int) (bp - holder.start());
        String sig = new String(data, at + LinuxAbi.BP_EFI_LOADER_SIGNATURE, 4, StandardCharsets.US_ASCII);
        if (!LinuxAbi.EFI64_LOADER_SIGNATURE.equals(sig)) {
            throw new BadInputException("boot_params at 0x" + Long.toHexString(bp) + " has efi_loader_signature '"
                    + sig.replace('\0', ' ').trim() + "', not EL64: not a 64-bit Linux EFI stub's hand-off");
        }
        long oldChain = Le.u64(data, at + LinuxAbi.BP_HDR_SETUP_DATA);
        List<Long> chain = checkChain(segs, oldChain);
        segs = needed(segs, state.entry(), bp, data, at, chain);
        bpSeg = segmentHolding(segs, bp, LinuxAbi.BOOT_PARAMS_SIZE);

        long size = blobSize(efi, log);
        long base = ResumeImage.freeBase(merged(segs), ram, roundUp(size));
        Blob blob = blob(base, efi, log, oldChain);

        patchBootParams(data, at, efi, blob);
        segs.set(bpSeg, new PostEbsState.Segment(holder.start(), holder.type(), data));
        segs.add(new PostEbsState.Segment(base, MemoryType.LoaderData, Arrays.copyOf(blob.data(), (int) roundUp(size))));
        return state.withSegments(segs);
    }

    /** Bytes of the SETUP_EFI node with everything it carries. */
    static long blobSize(HostEfi efi, byte[] log) {
        long n = LinuxAbi.SETUP_DATA_HEADER + LinuxAbi.EFI_SETUP_DATA_SIZE;
        n += (long) efi.configTable().size() * LinuxAbi.CONFIG_TABLE_64_SIZE;
        n = align8(n) + LinuxAbi.FINAL_EVENTS_TABLE_HEADER;
        n = align8(n) + LinuxAbi.TPM_LOG_LOG + log.length;
        n = align8(n) + (long) efi.runtimeMap().size() * LinuxAbi.EFI_MEMORY_DESC_SIZE;
        if (n > Integer.MAX_VALUE - 8192) throw new BadInputException("the continued event log is too large to hand over");
        return n;
    }

    /** The SETUP_EFI node at {@code base} whose next is {@code next}. */
    public static Blob blob(long base, HostEfi efi, byte[] log, long next) {
        int size = (int) blobSize(efi, log);
        byte[] b = new byte[size];
        int esd = LinuxAbi.SETUP_DATA_HEADER;
        int tables = esd + LinuxAbi.EFI_SETUP_DATA_SIZE;
        int fin = (int) align8(tables + (long) efi.configTable().size() * LinuxAbi.CONFIG_TABLE_64_SIZE);
        int logAt = (int) align8(fin + LinuxAbi.FINAL_EVENTS_TABLE_HEADER);
        int memmap = (int) align8(logAt + LinuxAbi.TPM_LOG_LOG + (long) log.length);
        int memmapSize = efi.runtimeMap().size() * LinuxAbi.EFI_MEMORY_DESC_SIZE;

        putU64(b, LinuxAbi.SD_NEXT, next);
        Le.putInt(b, LinuxAbi.SD_TYPE, LinuxAbi.SETUP_EFI);
        Le.putInt(b, LinuxAbi.SD_LEN, size - LinuxAbi.SETUP_DATA_HEADER);

        putU64(b, esd + LinuxAbi.ESD_FW_VENDOR, efi.fwVendor());
        putU64(b, esd + LinuxAbi.ESD_RUNTIME, efi.runtime());
        putU64(b, esd + LinuxAbi.ESD_TABLES, base + tables);
        putU64(b, esd + LinuxAbi.ESD_SMBIOS, efi.smbios());

        int logs = 0;
        for (int i = 0; i < efi.configTable().size(); i++) {
            HostEfi.ConfigEntry e = efi.configTable().get(i);
            int off = tables + i * LinuxAbi.CONFIG_TABLE_64_SIZE;
            e.guid().write(b, off);
            long table = e.table();
            if (e.guid().equals(LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID)) {
                table = base + logAt;
                logs++;
            } else if (e.guid().equals(LinuxAbi.LINUX_EFI_TPM_FINAL_LOG_GUID)) {
                table = base + fin;
            }
            putU64(b, off + LinuxAbi.CT_TABLE, table);
        }
        if (logs != 1) {
            throw new BadInputException("the firmware configuration table (0x" + Long.toHexString(efi.configTableAddress())
                    + ") has " + logs + " LINUX_EFI_TPM_EVENT_LOG entries, not one: the running kernel's EFI stub "
                    + "installed no TPM log to replace, and resume mode adds no entry (nothing was loaded or extended)");
        }
        putU64(b, fin, LinuxAbi.FINAL_EVENTS_VERSION); // nr_events stays 0

        Le.putInt(b, logAt + LinuxAbi.TPM_LOG_SIZE, log.length);
        Le.putInt(b, logAt + LinuxAbi.TPM_LOG_FINAL_EVENTS_PREBOOT_SIZE, 0);
        b[logAt + LinuxAbi.TPM_LOG_VERSION] = (byte) LinuxAbi.EFI_TCG2_EVENT_LOG_FORMAT_TCG_2;
        System.arraycopy(log, 0, b, logAt + LinuxAbi.TPM_LOG_LOG, log.length);

        for (int i = 0; i < efi.runtimeMap().size(); i++) {
            HostEfi.RuntimeRegion r = efi.runtimeMap().get(i);
            int off = memmap + i * LinuxAbi.EFI_MEMORY_DESC_SIZE;
            Le.putInt(b, off + LinuxAbi.MD_TYPE, r.type());
            putU64(b, off + LinuxAbi.MD_PHYS_ADDR, r.physAddr());
            putU64(b, off + LinuxAbi.MD_VIRT_ADDR, r.virtAddr());
            putU64(b, off + LinuxAbi.MD_NUM_PAGES, r.numPages());
            putU64(b, off + LinuxAbi.MD_ATTRIBUTE, r.attribute());
        }
        return new Blob(base, b, tables, fin, logAt, memmap, memmapSize);
    }

    /** Rewrites the boot_params page at {@code at} in {@code d} for the real machine. */
    static void patchBootParams(byte[] d, int at, HostEfi efi, Blob blob) {
        Arrays.fill(d, at + LinuxAbi.BP_SCREEN_INFO, at + LinuxAbi.BP_SCREEN_INFO + LinuxAbi.SCREEN_INFO_SIZE, (byte) 0);
        Le.putInt(d, at + LinuxAbi.BP_EFI_SYSTAB, (int) efi.systab());
        Le.putInt(d, at + LinuxAbi.BP_EFI_SYSTAB_HI, (int) (efi.systab() >>> 32));
        long memmap = blob.address() + blob.memmapOffset();
        Le.putInt(d, at + LinuxAbi.BP_EFI_MEMMAP, (int) memmap);
        Le.putInt(d, at + LinuxAbi.BP_EFI_MEMMAP_HI, (int) (memmap >>> 32));
        Le.putInt(d, at + LinuxAbi.BP_EFI_MEMMAP_SIZE, blob.memmapSize());
        Le.putInt(d, at + LinuxAbi.BP_EFI_MEMDESC_SIZE, LinuxAbi.EFI_MEMORY_DESC_SIZE);
        Le.putInt(d, at + LinuxAbi.BP_EFI_MEMDESC_VERSION, LinuxAbi.EFI_MEMORY_DESCRIPTOR_VERSION);
        d[at + LinuxAbi.BP_SECURE_BOOT] = (byte) efi.secureBoot();
        putU64(d, at + LinuxAbi.BP_HDR_SETUP_DATA, blob.address());
        List<HostEfi.E820Entry> map = efi.e820();
        if (map.size() > LinuxAbi.E820_MAX_ENTRIES_ZEROPAGE) {
            throw new BadInputException("the firmware memory map has " + map.size() + " entries; boot_params holds "
                    + LinuxAbi.E820_MAX_ENTRIES_ZEROPAGE + " (SETUP_E820_EXT is not written)");
        }
        int table = at + LinuxAbi.BP_E820_TABLE;
        Arrays.fill(d, table, table + LinuxAbi.E820_MAX_ENTRIES_ZEROPAGE * LinuxAbi.E820_ENTRY_SIZE, (byte) 0);
        for (int i = 0; i < map.size(); i++) {
            HostEfi.E820Entry e = map.get(i);
            int off = table + i * LinuxAbi.E820_ENTRY_SIZE;
            putU64(d, off, e.start());
            putU64(d, off + 8, e.end() - e.start());
            Le.putInt(d, off + 16, e.type());
        }
        d[at + LinuxAbi.BP_E820_ENTRIES] = (byte) map.size();
    }

    /**
     * The ranges the kernel reads at its entry: the one it starts in, boot_params, the command line, the initrd and
     * the stub's setup_data nodes. The rest (the loaded PE images of the UKI and its kernel, the emulated firmware's
     * runtime and ACPI memory, the emulated memory map) is not needed once boot_params point at the real firmware,
     * and every byte left out is a byte the old kernel's relocate_kernel does not copy at the kexec.
     */
    static List<PostEbsState.Segment> needed(List<PostEbsState.Segment> segs, long entry, long bp, byte[] d, int at,
                                              List<Long> chain) {
        List<long[]> used = new ArrayList<>();
        used.add(new long[]{entry, 1});
        used.add(new long[]{bp, LinuxAbi.BOOT_PARAMS_SIZE});
        long cmdline = Le.u32(d, at + LinuxAbi.BP_HDR_CMD_LINE_PTR) | Le.u32(d, at + LinuxAbi.BP_EXT_CMD_LINE_PTR) << 32;
        if (cmdline != 0) used.add(new long[]{cmdline, 1});
        long initrd = Le.u32(d, at + LinuxAbi.BP_HDR_RAMDISK_IMAGE) | Le.u32(d, at + LinuxAbi.BP_EXT_RAMDISK_IMAGE) << 32;
        long initrdSize = Le.u32(d, at + LinuxAbi.BP_HDR_RAMDISK_SIZE) | Le.u32(d, at + LinuxAbi.BP_EXT_RAMDISK_SIZE) << 32;
        if (initrdSize > 0) {
            if (initrdSize > Integer.MAX_VALUE || segmentHolding(segs, initrd, (int) initrdSize) < 0) {
                throw new BadInputException("the initrd boot_params name (0x" + Long.toHexString(initrd) + ", " + initrdSize
                        + " bytes) is not in one range the payload allocated");
            }
            used.add(new long[]{initrd, initrdSize});
        }
        for (long node : chain) used.add(new long[]{node, LinuxAbi.SETUP_DATA_HEADER});
        List<PostEbsState.Segment> out = new ArrayList<>();
        for (PostEbsState.Segment s : segs) {
            long end = s.start() + s.data().length;
            if (used.stream().anyMatch(u -> u[0] >= s.start() && u[0] < end)) out.add(s);
        }
        if (segmentHolding(out, entry, 1) < 0) {
            throw new BadInputException("the kernel entry 0x" + Long.toHexString(entry) + " is not in memory the payload "
                    + "allocated");
        }
        return out;
    }

    /**
     * The stub's setup_data chain (node addresses): every node inside captured memory, no SETUP_E820_EXT (the e820
     * table is replaced).
     */
    static List<Long> checkChain(List<PostEbsState.Segment> segs, long head) {
        List<Long> nodes = new ArrayList<>();
        long p = head;
        for (int n = 0; p != 0; n++) {
            nodes.add(p);
            if (n >= 64) throw new BadInputException("the stub's setup_data chain has more than 64 nodes (a loop?)");
            int s = segmentHolding(segs, p, LinuxAbi.SETUP_DATA_HEADER);
            if (s < 0) {
                throw new BadInputException("setup_data node at 0x" + Long.toHexString(p) + " is outside the payload's memory");
            }
            PostEbsState.Segment g = segs.get(s);
            int off = (int) (p - g.start());
            long type = Le.u32(g.data(), off + LinuxAbi.SD_TYPE);
            if (type == LinuxAbi.SETUP_E820_EXT) {
                throw new BadInputException("the stub's boot_params carry SETUP_E820_EXT (an emulated memory map of more "
                        + "than 128 entries); the hand-over replaces the e820 table and cannot keep that node");
            }
            p = Le.u64(g.data(), off + LinuxAbi.SD_NEXT);
        }
        return nodes;
    }

    /**
     * Every kexec segment (merged ranges and the purgatory included) inside one E820_TYPE_RAM range of the real
     * firmware map: the segments obey the real memory map, and the map the next kernel gets has them as RAM.
     */
    public static void checkInRealRam(List<KexecSegment> segs, List<HostEfi.E820Entry> map) {
        for (KexecSegment s : segs) {
            boolean inside = map.stream().anyMatch(e -> e.type() == LinuxAbi.E820_TYPE_RAM
                    && e.start() <= s.mem() && s.end() <= e.end());
            if (!inside) {
                throw new BadInputException("kexec segment 0x" + Long.toHexString(s.mem()) + "-0x" + Long.toHexString(s.end())
                        + " is not inside one System RAM range of the firmware memory map (nothing was loaded or extended)");
            }
        }
    }

    private static int segmentHolding(List<PostEbsState.Segment> segs, long addr, int len) {
        for (int i = 0; i < segs.size(); i++) {
            PostEbsState.Segment s = segs.get(i);
            if (addr >= s.start() && addr + len <= s.start() + s.data().length) return i;
        }
        return -1;
    }

    /** The captured ranges as placeholders (no data: only where they are matters for the placement). */
    private static List<KexecSegment> merged(List<PostEbsState.Segment> segs) {
        List<KexecSegment> out = new ArrayList<>();
        for (PostEbsState.Segment s : segs) out.add(new KexecSegment(new byte[0], s.start(), s.data().length));
        return out;
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    private static long roundUp(long n) {
        return (n + KexecSegment.PAGE - 1) & ~(KexecSegment.PAGE - 1);
    }

    private static void putU64(byte[] b, int off, long v) {
        Le.putInt(b, off, (int) v);
        Le.putInt(b, off + 4, (int) (v >>> 32));
    }
}
