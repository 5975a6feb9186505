package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real firmware's facts from a tree shaped like / (sysfs as Linux 6.1 writes it: hex values with 0x and a
 * newline, boot_params/data binary, systab lines "NAME=0x…") and a physical memory holding a system table and its
 * configuration table.
 */
class HostEfiTest {

    @TempDir
    Path root;

    static final long SYSTAB = 0x7f9ee018L, TABLES = 0x7f9ee718L;
    static final Guid ACPI20 = Guid.parse("8868e871-e4f1-11d3-bc22-0080c73c8881");

    void write(String path, String text) throws IOException {
        Path p = root.resolve(path);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
    }

    void tree(String signature) throws IOException {
        byte[] bp = new byte[4096];
        ByteBuffer b = ByteBuffer.wrap(bp).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1c0, signature.getBytes()[0]).put(0x1c1, signature.getBytes()[1]).put(0x1c2, signature.getBytes()[2])
                .put(0x1c3, signature.getBytes()[3]);
        b.putInt(0x1c4, (int) SYSTAB).putInt(0x1d8, 0).put(0x1ec, (byte) 1);
        Files.createDirectories(root.resolve("sys/kernel/boot_params"));
        Files.write(root.resolve("sys/kernel/boot_params/data"), bp);
        write("sys/firmware/efi/fw_vendor", "0x7f9ee098\n");
        write("sys/firmware/efi/runtime", "0x7f9efb98\n");
        write("sys/firmware/efi/config_table", "0x7f9ee718\n");
        write("sys/firmware/efi/systab", "ACPI20=0x7fb7e014\nACPI=0x7fb7e000\nSMBIOS=0x7f9a1000\nSMBIOS3=0x7f9a0000\n");
        for (int i = 0; i < 11; i++) { // 11 entries: numeric order 0,1,2,…,10 (not 0,1,10,2)
            String d = "sys/firmware/efi/runtime-map/" + i + "/";
            write(d + "type", "0x" + (i % 2 == 0 ? 5 : 6) + "\n");
            write(d + "phys_addr", "0x" + Long.toHexString(0x7f000000L + i * 0x10000L) + "\n");
            write(d + "virt_addr", "0x" + Long.toHexString(0xfffffffeff400000L + i * 0x10000L) + "\n");
            write(d + "num_pages", "0x10\n");
            write(d + "attribute", "0x800000000000000f\n");
        }
        String[][] mm = {{"0x0", "0x9efff", "System RAM"}, {"0x100000", "0x7effffff", "System RAM"},
                {"0x9f000", "0xfffff", "Reserved"}, {"0x7f000000", "0x7fffffff", "ACPI Non-volatile Storage"}};
        for (int i = 0; i < mm.length; i++) {
            write("sys/firmware/memmap/" + i + "/start", mm[i][0] + "\n");
            write("sys/firmware/memmap/" + i + "/end", mm[i][1] + "\n");
            write("sys/firmware/memmap/" + i + "/type", mm[i][2] + "\n");
        }
    }

    static byte[] physical(long address, int length) {
        byte[] out = new byte[length];
        if (address == SYSTAB) {
            ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(0, 0x5453595320494249L).putInt(104, 2).putInt(108, 0xdead); // u32 nr_tables, then padding
            return out;
        }
        if (address == TABLES && length == 48) {
            ACPI20.write(out, 0);
            ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 0x7fb7e014L);
            LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID.write(out, 24);
            ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(40, 0x7d5e0018L);
            return out;
        }
        throw new AssertionError("unexpected read at 0x" + Long.toHexString(address) + " of " + length);
    }

    @Test
    void readsWhatKexecToolsReadsAndTheConfigurationTableThroughPhysicalMemory() throws IOException {
        tree("EL64");
        HostEfi e = HostEfi.read(root, HostEfiTest::physical);
        assertEquals(SYSTAB, e.systab());
        assertEquals(1, e.secureBoot());
        assertEquals(0x7f9ee098L, e.fwVendor());
        assertEquals(0x7f9efb98L, e.runtime());
        assertEquals(TABLES, e.configTableAddress());
        assertEquals(0x7f9a1000L, e.smbios(), "SMBIOS=, not SMBIOS3=");
        assertEquals(List.of(new HostEfi.ConfigEntry(ACPI20, 0x7fb7e014L),
                new HostEfi.ConfigEntry(LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID, 0x7d5e0018L)), e.configTable(),
                "nr_tables is the u32 the kernel reads, not the padding above it");
        assertEquals(11, e.runtimeMap().size());
        for (int i = 0; i < 11; i++) {
            assertEquals(0x7f000000L + i * 0x10000L, e.runtimeMap().get(i).physAddr(), "entry " + i + " in numeric order");
        }
        assertEquals(0xfffffffeff400000L, e.runtimeMap().get(0).virtAddr());
        assertEquals(0x800000000000000fL, e.runtimeMap().get(0).attribute());
        assertEquals(List.of(new HostEfi.E820Entry(0, 0x9f000, 1), new HostEfi.E820Entry(0x9f000, 0x100000, 2),
                new HostEfi.E820Entry(0x100000, 0x7f000000L, 1), new HostEfi.E820Entry(0x7f000000L, 0x80000000L, 4)),
                e.e820(), "sorted by start, end exclusive, e820 types");
    }

    @Test
    void aKernelNotStartedBy64BitEfiOrAMissingRuntimeMapIsBadInputNamingWhat() throws IOException {
        tree("EL32");
        BadInputException e = assertThrows(BadInputException.class, () -> HostEfi.read(root, HostEfiTest::physical));
        assertTrue(e.getMessage().contains("EL64"), e.getMessage());
        tree("EL64");
        try (var s = Files.walk(root.resolve("sys/firmware/efi/runtime-map"))) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        e = assertThrows(BadInputException.class, () -> HostEfi.read(root, HostEfiTest::physical));
        assertTrue(e.getMessage().contains("runtime-map"), e.getMessage());
    }

    @Test
    void aSystemTableWithoutItsSignatureIsRefused() throws IOException {
        tree("EL64");
        BadInputException e = assertThrows(BadInputException.class, () -> HostEfi.read(root, (a, n) -> new byte[n]));
        assertTrue(e.getMessage().contains("system table signature"), e.getMessage());
    }

    /**
     * A kernel this tool resumed: its configuration table is the copy in the SETUP_EFI node it was handed (System RAM:
     * /dev/mem refuses it, here a physical memory that throws for it). The node comes from LinuxHandOver.blob (whose
     * layout LinuxHandOverTest checks with a C reader built on the kernel's own structs), laid out as sysfs shows it:
     * setup_data/0/type "0x4", data = the payload after the 16-byte header, boot_params' hdr.setup_data = its address.
     */
    @Test
    void aResumedKernelsTableIsReadFromItsSetupEfiNodeNotPhysicalMemory() throws IOException {
        tree("EL64");
        HostEfi first = HostEfi.read(root, HostEfiTest::physical);
        long base = 0x3e000000L;
        byte[] log = new byte[100];
        LinuxHandOver.Blob blob = LinuxHandOver.blob(base, first, log, 0);
        long copy = base + blob.tablesOffset();
        // the resumed kernel's view: config_table = the copy, setup_data node 0 = the blob, hdr.setup_data = base
        write("sys/firmware/efi/config_table", "0x" + Long.toHexString(copy) + "\n");
        byte[] bp = Files.readAllBytes(root.resolve("sys/kernel/boot_params/data"));
        ByteBuffer.wrap(bp).order(ByteOrder.LITTLE_ENDIAN).putLong(LinuxAbi.BP_HDR_SETUP_DATA, base);
        Files.write(root.resolve("sys/kernel/boot_params/data"), bp);
        write("sys/kernel/boot_params/setup_data/0/type", "0x4\n");
        Files.write(root.resolve("sys/kernel/boot_params/setup_data/0/data"),
                java.util.Arrays.copyOfRange(blob.data(), LinuxAbi.SETUP_DATA_HEADER, blob.data().length));
        HostEfi.PhysicalMemory devMemOfAResumedKernel = (a, n) -> {
            if (a == SYSTAB) return physical(a, n);
            throw new BadInputException("/dev/mem: cannot read " + n + " bytes at 0x" + Long.toHexString(a) + " (Operation not permitted)");
        };
        HostEfi resumed = HostEfi.read(root, devMemOfAResumedKernel);
        assertEquals(copy, resumed.configTableAddress());
        assertEquals(List.of(new HostEfi.ConfigEntry(ACPI20, 0x7fb7e014L),
                new HostEfi.ConfigEntry(LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID, base + blob.logOffset())), resumed.configTable(),
                "the copy's entries: ACPI as the firmware's, the TPM log the one the previous generation handed on");

        // a node whose tables field is not the table the kernel reports: refused, naming the file
        byte[] forged = Files.readAllBytes(root.resolve("sys/kernel/boot_params/setup_data/0/data"));
        ByteBuffer.wrap(forged).order(ByteOrder.LITTLE_ENDIAN).putLong(LinuxAbi.ESD_TABLES, copy + 8);
        Files.write(root.resolve("sys/kernel/boot_params/setup_data/0/data"), forged);
        BadInputException e = assertThrows(BadInputException.class, () -> HostEfi.read(root, devMemOfAResumedKernel));
        assertTrue(e.getMessage().contains("setup_data/0/data") && e.getMessage().contains("efi_setup_data.tables"), e.getMessage());

        // a kernel-made SETUP_EFI (kexec_file_load: efi_setup_data alone) holds no table: physical memory, as before
        write("sys/firmware/efi/config_table", "0x" + Long.toHexString(TABLES) + "\n");
        Files.write(root.resolve("sys/kernel/boot_params/setup_data/0/data"),
                java.util.Arrays.copyOfRange(blob.data(), LinuxAbi.SETUP_DATA_HEADER, LinuxAbi.SETUP_DATA_HEADER + LinuxAbi.EFI_SETUP_DATA_SIZE));
        assertEquals(first.configTable(), HostEfi.read(root, HostEfiTest::physical).configTable());
    }

    /**
     * Real bytes: the tree a Linux kernel resumed by this tool (tests/e2e resume-linux, generation rl2) showed — sysfs
     * files, boot_params, its setup_data nodes, and the firmware's system table it read through /dev/mem (provenance in
     * the fixture's PROVENANCE.md). Its /dev/mem refused the configuration table copy (here a memory that serves only
     * the system table); HostEfi reads the table from setup_data node 0. The oracle is the kernel's own parse of that
     * table, printed at boot ("efi: TPMFinalLog=0x… SMBIOS=0x… …", dmesg-efi.txt): every entry it names is in ours with
     * the same address.
     */
    @Test
    void aResumedKernelsRealTreeGivesTheTableTheKernelParsed() throws Exception {
        Path fixture = Path.of(HostEfiTest.class.getResource("resumed-rl2/PROVENANCE.md").toURI()).getParent();
        byte[] systab = Files.readAllBytes(fixture.resolve("systab.bin"));
        long systabAddress = Long.parseLong(Files.readString(fixture.resolve("systab-address")).strip().substring(2), 16);
        HostEfi e = HostEfi.read(fixture.resolve("root"), (a, n) -> {
            if (a == systabAddress && n <= systab.length) return java.util.Arrays.copyOf(systab, n);
            throw new BadInputException("/dev/mem: cannot read " + n + " bytes at 0x" + Long.toHexString(a) + " (Operation not permitted)");
        });
        java.util.Map<String, Guid> names = java.util.Map.of(
                "ACPI 2.0", Guid.parse("8868e871-e4f1-11d3-bc22-0080c73c8881"),
                "ACPI", Guid.parse("eb9d2d30-2d88-11d3-9a16-0090273fc14d"),
                "SMBIOS", Guid.parse("eb9d2d31-2d88-11d3-9a16-0090273fc14d"),
                "SMBIOS 3.0", Guid.parse("f2fd1544-9794-4a2c-992e-e5bbcf20e394"),
                "MEMATTR", Guid.parse("dcfa911d-26eb-469f-a220-38b7dc461220"),
                "INITRD", Guid.parse("5568e427-68fc-4f3d-ac74-ca555231cc68"),
                "TPMEventLog", LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID,
                "TPMFinalLog", LinuxAbi.LINUX_EFI_TPM_FINAL_LOG_GUID,
                "RNG", Guid.parse("1ce1e5bc-7ceb-42f2-81e5-8aadf180f57b"));
        String line = Files.readString(fixture.resolve("dmesg-efi.txt"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([A-Za-z][A-Za-z0-9. ]*?)=0x([0-9a-f]+)").matcher(line);
        int named = 0;
        while (m.find()) {
            String name = m.group(1).strip();
            Guid g = names.get(name);
            if (g == null) continue;
            named++;
            long address = Long.parseLong(m.group(2), 16);
            assertTrue(e.configTable().contains(new HostEfi.ConfigEntry(g, address)),
                    name + "=0x" + m.group(2) + " (the kernel's parse) is in HostEfi's table " + e.configTable());
        }
        assertTrue(named >= 4, "the kernel named " + named + " entries: " + line);
    }
}
