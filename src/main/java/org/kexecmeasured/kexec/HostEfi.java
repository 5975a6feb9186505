package org.kexecmeasured.kexec;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;
import org.kexecmeasured.util.Le;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The real firmware's EFI hand-over facts a Linux kernel resumed by kexec needs, read as kexec-tools reads them for
 * {@code kexec_load} (kexec/arch/i386/x86-linux-setup.c: setup_efi_info, setup_efi_data, get_efi_runtime_map,
 * and the e820 map from the firmware memory map):
 * <ul>
 *   <li>the system table's physical address from the running kernel's own boot_params
 *   ({@code /sys/kernel/boot_params/data}, efi_info.efi_systab/_hi: sysfs has no other place for it), and its
 *   secure_boot byte;</li>
 *   <li>{@code /sys/firmware/efi/{fw_vendor,runtime,config_table}} and SMBIOS from {@code /sys/firmware/efi/systab}:
 *   the physical addresses the first kernel saved before SetVirtualAddressMap converted the system table's
 *   pointers (the content of SETUP_EFI);</li>
 *   <li>the system table's nr_tables and the configuration table itself, through {@code /dev/mem} (both live in
 *   EFI runtime-services data, which Linux reports as reserved, so STRICT_DEVMEM allows the read): the copy the
 *   next kernel gets must have the same entries, the TPM log one replaced. In a kernel this tool resumed, the table
 *   is the copy inside the SETUP_EFI node it was handed (System RAM, which STRICT_DEVMEM refuses): that copy is read
 *   from the node's payload in {@code /sys/kernel/boot_params/setup_data/0/data} instead ({@link #fromSetupData}).
 *   kexec-tools never reads the table's content (it hands on the firmware's table address), so it has no such
 *   step;</li>
 *   <li>the runtime map ({@code /sys/firmware/efi/runtime-map/N/}: the regions and the virtual addresses the first
 *   kernel gave them with SetVirtualAddressMap, which the next kernel maps again without calling it);</li>
 *   <li>the firmware memory map ({@code /sys/firmware/memmap/N/}) as the next kernel's e820 table.</li>
 * </ul>
 * Anything missing or malformed is bad input naming the file: resume of a Linux kernel is refused before anything
 * is loaded or extended.
 */
public record HostEfi(long systab, int secureBoot, long fwVendor, long runtime, long configTableAddress, long smbios,
                      List<ConfigEntry> configTable, List<RuntimeRegion> runtimeMap, List<E820Entry> e820) {

    /** At most this many configuration-table entries, runtime regions or memmap entries are read. */
    static final int MAX_ENTRIES = 4096;

    public HostEfi {
        configTable = List.copyOf(configTable);
        runtimeMap = List.copyOf(runtimeMap);
        e820 = List.copyOf(e820);
    }

    /** One entry of the EFI configuration table. */
    public record ConfigEntry(Guid guid, long table) {
    }

    /** One region of the runtime map (efi_memory_desc_t). */
    public record RuntimeRegion(int type, long physAddr, long virtAddr, long numPages, long attribute) {
    }

    /** One range of the firmware memory map: [start, end) and its e820 type. */
    public record E820Entry(long start, long end, int type) {
    }

    /** Reads physical memory (the system: {@code /dev/mem}). */
    @FunctionalInterface
    public interface PhysicalMemory {
        byte[] read(long address, int length);
    }

    /** The running system. */
    public static HostEfi read() {
        return read(Path.of("/"), HostEfi::devMem);
    }

    /** Reads below {@code root} (tests give a tree shaped like /) and physical memory through {@code mem}. */
    public static HostEfi read(Path root, PhysicalMemory mem) {
        Path bp = root.resolve("sys/kernel/boot_params/data");
        byte[] params = readFile(bp, "the running kernel's boot_params (root only)");
        if (params.length < LinuxAbi.BOOT_PARAMS_SIZE) {
            throw new BadInputException(bp + ": " + params.length + " bytes, a boot_params page has "
                    + LinuxAbi.BOOT_PARAMS_SIZE);
        }
        String sig = new String(params, LinuxAbi.BP_EFI_LOADER_SIGNATURE, 4, StandardCharsets.US_ASCII);
        if (!LinuxAbi.EFI64_LOADER_SIGNATURE.equals(sig)) {
            throw new BadInputException(bp + ": efi_loader_signature is '" + sig.replace('\0', ' ').trim()
                    + "', not EL64: the running kernel was not started by a 64-bit EFI firmware, so there is no "
                    + "firmware system table to hand to the next kernel");
        }
        long systab = Le.u32(params, LinuxAbi.BP_EFI_SYSTAB) | Le.u32(params, LinuxAbi.BP_EFI_SYSTAB_HI) << 32;
        int secureBoot = Le.u8(params, LinuxAbi.BP_SECURE_BOOT);
        Path efi = root.resolve("sys/firmware/efi");
        long fwVendor = hexFile(efi.resolve("fw_vendor"));
        long runtime = hexFile(efi.resolve("runtime"));
        long tables = hexFile(efi.resolve("config_table"));
        long smbios = smbios(efi.resolve("systab"));

        byte[] st = mem.read(systab, LinuxAbi.SYSTAB_64_SIZE);
        if (Le.u64(st, LinuxAbi.SYSTAB_SIGNATURE) != LinuxAbi.EFI_SYSTEM_TABLE_SIGNATURE) {
            throw new BadInputException("physical memory at 0x" + Long.toHexString(systab) + " (efi_systab of " + bp
                    + ") holds no EFI system table signature");
        }
        long nr = Le.u32(st, LinuxAbi.SYSTAB_NR_TABLES); // efi_system_table_64_t: u32 nr_tables, u32 __pad2 (as the kernel reads it)
        if (nr < 1 || nr > MAX_ENTRIES) {
            throw new BadInputException("the firmware system table at 0x" + Long.toHexString(systab) + " claims "
                    + Long.toUnsignedString(nr) + " configuration tables (1 to " + MAX_ENTRIES + " expected)");
        }
        int ctSize = (int) nr * LinuxAbi.CONFIG_TABLE_64_SIZE;
        byte[] ct = fromSetupData(root.resolve("sys/kernel/boot_params/setup_data"),
                Le.u64(params, LinuxAbi.BP_HDR_SETUP_DATA), tables, ctSize);
        if (ct == null) ct = mem.read(tables, ctSize);
        List<ConfigEntry> config = new ArrayList<>();
        for (int i = 0; i < nr; i++) {
            int off = i * LinuxAbi.CONFIG_TABLE_64_SIZE;
            config.add(new ConfigEntry(Guid.read(ct, off), Le.u64(ct, off + LinuxAbi.CT_TABLE)));
        }
        return new HostEfi(systab, secureBoot, fwVendor, runtime, tables, smbios, config,
                runtimeMap(efi.resolve("runtime-map")), e820(root.resolve("sys/firmware/memmap")));
    }

    /**
     * {@code length} bytes at physical {@code address} when they lie in the payload of the first setup_data node and
     * that node is SETUP_EFI — a kernel resumed by this tool, whose configuration table copy is there — else null.
     * Linux (arch/x86/kernel/ksysfs.c) numbers {@code setup_data/N} in chain order from boot_params' hdr.setup_data,
     * {@code type} as {@code 0x%x}, {@code data} the payload (after the 16-byte header); only the first node's
     * physical address ({@code firstNode}, hdr.setup_data) is known without reading physical memory. A kernel-made
     * SETUP_EFI node (kexec_file_load: efi_setup_data alone, 96 bytes) does not hold the table: null.
     */
    /** The most of a setup_data node {@link #fromSetupData} reads: the table copy sits right after efi_setup_data. */
    static final int MAX_SETUP_DATA_READ = 16 << 20;

    /** Up to {@code n} bytes from the start of {@code file} (fewer when it is shorter). */
    private static byte[] readPrefix(Path file, int n) {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(n);
            while (buf.hasRemaining() && ch.read(buf) > 0) {
                // sysfs binary attributes may return less than asked per read
            }
            return java.util.Arrays.copyOf(buf.array(), buf.position());
        } catch (java.io.IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage());
        }
    }

    static byte[] fromSetupData(Path dir, long firstNode, long address, int length) {
        Path node = dir.resolve("0");
        if (firstNode == 0 || !Files.isDirectory(node)) return null;
        long type = hexFile(node.resolve("type"));
        if (type != LinuxAbi.SETUP_EFI) return null;
        long payload = firstNode + LinuxAbi.SETUP_DATA_HEADER;
        if (Long.compareUnsigned(address, payload) < 0) return null;
        long off = address - payload;
        Path data = node.resolve("data");
        // only the bytes the check and the table need: efi_setup_data, then the table at its offset (a node is read
        // from sysfs; one naming a table beyond MAX_SETUP_DATA_READ is not where this tool put it)
        long need = Math.max(LinuxAbi.EFI_SETUP_DATA_SIZE, off + (long) length);
        if (off > MAX_SETUP_DATA_READ || need > MAX_SETUP_DATA_READ) return null;
        byte[] b = readPrefix(data, (int) need);
        if (b.length < LinuxAbi.EFI_SETUP_DATA_SIZE) {
            throw new BadInputException(data + ": " + b.length + " bytes, a SETUP_EFI payload (efi_setup_data) has at least "
                    + LinuxAbi.EFI_SETUP_DATA_SIZE);
        }
        if (off < LinuxAbi.EFI_SETUP_DATA_SIZE || off > b.length - (long) length) return null;
        // the node must be the one this kernel took its table from: its efi_setup_data.tables is that address
        if (Le.u64(b, LinuxAbi.ESD_TABLES) != address) {
            throw new BadInputException(data + ": efi_setup_data.tables 0x" + Long.toHexString(Le.u64(b, LinuxAbi.ESD_TABLES))
                    + " is not the configuration table 0x" + Long.toHexString(address) + " this kernel reports");
        }
        return java.util.Arrays.copyOfRange(b, (int) off, (int) off + length);
    }

    /** /sys/firmware/efi/runtime-map/N/, in the order of N. */
    static List<RuntimeRegion> runtimeMap(Path dir) {
        List<RuntimeRegion> out = new ArrayList<>();
        for (Path e : numbered(dir, "the EFI runtime map (CONFIG_EFI_RUNTIME_MAP)")) {
            out.add(new RuntimeRegion((int) hexFile(e.resolve("type")), hexFile(e.resolve("phys_addr")),
                    hexFile(e.resolve("virt_addr")), hexFile(e.resolve("num_pages")), hexFile(e.resolve("attribute"))));
        }
        if (out.isEmpty()) {
            throw new BadInputException(dir + " is empty: the running kernel has no EFI runtime regions to hand on");
        }
        return out;
    }

    /** /sys/firmware/memmap/N/ as e820 entries, sorted by start. */
    static List<E820Entry> e820(Path dir) {
        List<E820Entry> out = new ArrayList<>();
        for (Path e : numbered(dir, "the firmware memory map (CONFIG_FIRMWARE_MEMMAP)")) {
            long start = hexFile(e.resolve("start")), end = hexFile(e.resolve("end")) + 1; // end is inclusive
            if (end <= start) throw new BadInputException(e + ": end below start");
            out.add(new E820Entry(start, end, LinuxAbi.e820Type(text(e.resolve("type")))));
        }
        out.sort(Comparator.comparingLong(E820Entry::start));
        return out;
    }

    /** The entries N of a sysfs directory in numeric order; at most {@link #MAX_ENTRIES}. */
    private static List<Path> numbered(Path dir, String what) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(dir)) {
            for (Path e : d) {
                if (!e.getFileName().toString().matches("[0-9]{1,6}")) continue;
                if (out.size() >= MAX_ENTRIES) throw new BadInputException(dir + ": more than " + MAX_ENTRIES + " entries");
                out.add(e);
            }
        } catch (IOException e) {
            throw new BadInputException(dir + " is not readable (" + e.getMessage() + "): resume of a Linux kernel needs "
                    + what);
        }
        out.sort(Comparator.comparingInt(p -> Integer.parseInt(p.getFileName().toString())));
        return out;
    }

    /** SMBIOS=0x… of /sys/firmware/efi/systab (0: none; kexec-tools takes the same line). */
    static long smbios(Path systab) {
        for (String l : text(systab).lines().toList()) {
            if (l.startsWith("SMBIOS=")) return hex(systab, l.substring("SMBIOS=".length()).trim());
        }
        return 0;
    }

    private static byte[] readFile(Path p, String what) {
        if (!Files.isReadable(p)) {
            throw new BadInputException(p + " is not readable: resume of a Linux kernel needs " + what);
        }
        return BoundedFiles.read(p, BoundedFiles.TEXT);
    }

    private static String text(Path p) {
        return new String(readFile(p, "the EFI facts sysfs gives"), StandardCharsets.US_ASCII).trim();
    }

    private static long hexFile(Path p) {
        return hex(p, text(p));
    }

    private static long hex(Path where, String t) {
        try {
            return Long.parseUnsignedLong(t.startsWith("0x") ? t.substring(2) : t, 16);
        } catch (NumberFormatException e) {
            throw new BadInputException(where + ": '" + t + "' is not a hexadecimal number");
        }
    }

    /** Physical memory through /dev/mem (not under lockdown: resume mode is refused there before this runs). */
    static byte[] devMem(long address, int length) {
        byte[] b = new byte[length];
        try (RandomAccessFile f = new RandomAccessFile("/dev/mem", "r")) {
            f.seek(address);
            f.readFully(b);
        } catch (IOException e) {
            throw new BadInputException("/dev/mem: cannot read " + length + " bytes at 0x" + Long.toHexString(address)
                    + " (" + e.getMessage() + "): resume of a Linux kernel copies the firmware's configuration table "
                    + "from there");
        }
        return b;
    }
}
