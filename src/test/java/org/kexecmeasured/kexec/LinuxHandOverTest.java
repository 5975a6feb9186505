package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.util.BadInputException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Linux hand-over ({@link LinuxHandOver}) read back the way the next kernel reads it: a C program compiled
 * against the kernel's definitions ({@link KernelHeaders}: {@code struct boot_params}, {@code struct setup_data},
 * {@code struct efi_setup_data}, {@code efi_config_table_64_t}, {@code struct linux_efi_tpm_eventlog},
 * {@code struct efi_tcg2_final_events_table}, {@code efi_memory_desc_t}) walks the rewritten boot_params in the
 * segments — efi_info, e820_table, hdr.setup_data → SETUP_EFI → tables (as many as the real system table says) →
 * the TPM log and the final events table, and efi_memmap — and prints what it finds; the test compares that with
 * the real firmware's facts it gave the builder and the log.
 */
class LinuxHandOverTest {

    @TempDir
    Path dir;

    static final long BP = 0x0100_0000L, OLD_NODE = BP + 0x1000, KERNEL = 0x0200_0000L, CMDLINE = 0x0300_0000L,
            INITRD = 0x0310_0000L, UKI_IMAGE = 0x0400_0000L;
    static final Guid ACPI20 = Guid.parse("8868e871-e4f1-11d3-bc22-0080c73c8881");
    static final Guid SMBIOS = Guid.parse("eb9d2d31-2d88-11d3-9a16-0090273fc14d");

    /** A stub's hand-off: boot_params (EL64, a screen_info, one RNG-seed setup_data node of its own), a kernel. */
    static PostEbsState captured() {
        byte[] page = new byte[0x2000];
        System.arraycopy("EL64".getBytes(), 0, page, LinuxAbi.BP_EFI_LOADER_SIGNATURE, 4);
        Arrays.fill(page, 0, 0x40, (byte) 0x5a); // the emulated GOP's screen_info
        ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN).putLong(LinuxAbi.BP_HDR_SETUP_DATA, OLD_NODE)
                .putLong(0x1000, 0).putInt(0x1008, 9).putInt(0x100c, 32) // SETUP_RNG_SEED, 32 bytes
                .putInt(LinuxAbi.BP_HDR_CMD_LINE_PTR, (int) CMDLINE + 0x10)
                .putInt(LinuxAbi.BP_HDR_RAMDISK_IMAGE, (int) INITRD).putInt(LinuxAbi.BP_HDR_RAMDISK_SIZE, 0x1800);
        byte[] kernel = new byte[0x4000];
        Arrays.fill(kernel, (byte) 0x90);
        return new PostEbsState(PostEbsState.Point.KERNEL_ENTRY, KERNEL + 0x200, BP, Map.of("RSI", BP, "CS", 0x38L),
                List.of(new PostEbsState.Segment(BP, MemoryType.LoaderData, page),
                        new PostEbsState.Segment(KERNEL, MemoryType.LoaderCode, kernel),
                        new PostEbsState.Segment(CMDLINE, MemoryType.LoaderData, new byte[0x1000]),
                        new PostEbsState.Segment(INITRD, MemoryType.LoaderData, new byte[0x2000]),
                        new PostEbsState.Segment(UKI_IMAGE, MemoryType.LoaderCode, new byte[0x8000]),
                        new PostEbsState.Segment(0x3f00_0000L, MemoryType.RuntimeServicesData, new byte[0x1000])),
                List.of());
    }

    static HostEfi efi(boolean withTpmLog) {
        List<HostEfi.ConfigEntry> t = new ArrayList<>(List.of(new HostEfi.ConfigEntry(ACPI20, 0x7fb7e000L),
                new HostEfi.ConfigEntry(LinuxAbi.LINUX_EFI_TPM_FINAL_LOG_GUID, 0x7e9f0000L),
                new HostEfi.ConfigEntry(SMBIOS, 0x7f9a1000L)));
        if (withTpmLog) t.add(1, new HostEfi.ConfigEntry(LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID, 0x7d5e0018L));
        return new HostEfi(0x7f9ee018L, 1, 0x7f9ee098L, 0x7f9efb98L, 0x7f9ee718L, 0x7f9a1000L, t,
                List.of(new HostEfi.RuntimeRegion(5, 0x7f9f0000L, 0xfffffffeff400000L, 16, 0x800000000000000fL),
                        new HostEfi.RuntimeRegion(6, 0x7fa00000L, 0xfffffffeff410000L, 32, 0x800000000000000fL)),
                List.of(new HostEfi.E820Entry(0, 0x9f000, 1), new HostEfi.E820Entry(0x9f000, 0x100000, 2),
                        new HostEfi.E820Entry(0x100000, 0x7d000000L, 1), new HostEfi.E820Entry(0x7d000000L, 0x7f800000L, 2),
                        new HostEfi.E820Entry(0x7f800000L, 0x80000000L, 4)));
    }

    static final List<RamRange> RAM = List.of(new RamRange(0x100000, 0x4000_0000L));

    /** The C reader: boot_params as the kernel reads them, from a file of (address, length, bytes) records. */
    static final String READER = """
            static struct { u64 a, n; u8 *d; } seg[64]; static int nseg;
            static void *P(u64 a, u64 len) {
              for (int i = 0; i < nseg; i++)
                if (a >= seg[i].a && a + len <= seg[i].a + seg[i].n) return seg[i].d + (a - seg[i].a);
              printf("UNMAPPED %llx+%llu\\n", (unsigned long long)a, (unsigned long long)len); exit(3);
            }
            static void guid(const efi_guid_t *g) {
              const u8 *b = g->b;
              printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                     b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
            }
            int main(int argc, char **argv) {
              FILE *f = fopen(argv[1], "rb"); u64 bp_at = strtoull(argv[2], 0, 0); int nr_tables = atoi(argv[3]);
              while (fread(&seg[nseg].a, 8, 1, f) == 1) {
                if (fread(&seg[nseg].n, 8, 1, f) != 1) return 2;
                seg[nseg].d = malloc(seg[nseg].n);
                if (fread(seg[nseg].d, 1, seg[nseg].n, f) != seg[nseg].n) return 2;
                nseg++;
              }
              struct boot_params *bp = P(bp_at, sizeof(*bp));
              u8 zero[sizeof(bp->screen_info)] = {0};
              printf("screen_info_zero %d\\n", memcmp(&bp->screen_info, zero, sizeof(zero)) == 0);
              printf("efi_loader_signature %.4s\\n", (char *)&bp->efi_info.efi_loader_signature);
              printf("systab %llx\\n", (unsigned long long)bp->efi_info.efi_systab | (unsigned long long)bp->efi_info.efi_systab_hi << 32);
              printf("secure_boot %d\\n", bp->secure_boot);
              for (int i = 0; i < bp->e820_entries; i++)
                printf("e820 %llx %llx %u\\n", (unsigned long long)bp->e820_table[i].addr,
                       (unsigned long long)bp->e820_table[i].size, bp->e820_table[i].type);
              u64 mm = bp->efi_info.efi_memmap | (u64)bp->efi_info.efi_memmap_hi << 32;
              u32 ds = bp->efi_info.efi_memdesc_size;
              printf("memdesc %u %u\\n", ds, bp->efi_info.efi_memdesc_version);
              for (u32 o = 0; o + ds <= bp->efi_info.efi_memmap_size; o += ds) {
                efi_memory_desc_t *md = P(mm + o, sizeof(*md));
                printf("md %u %llx %llx %llu %llx\\n", md->type, (unsigned long long)md->phys_addr,
                       (unsigned long long)md->virt_addr, (unsigned long long)md->num_pages, (unsigned long long)md->attribute);
              }
              for (u64 pa = bp->hdr.setup_data; pa; ) {
                struct setup_data *sd = P(pa, sizeof(*sd));
                P(pa, sizeof(*sd) + sd->len);
                printf("setup_data %u %u\\n", sd->type, sd->len);
                if (sd->type == SETUP_EFI) {
                  struct efi_setup_data *esd = (void *)sd->data;
                  printf("esd %llx %llx %llx\\n", (unsigned long long)esd->fw_vendor, (unsigned long long)esd->tables,
                         (unsigned long long)esd->smbios);
                  efi_config_table_64_t *t = P(esd->tables, nr_tables * sizeof(*t));
                  for (int i = 0; i < nr_tables; i++) {
                    printf("table "); guid(&t[i].guid); printf(" %llx\\n", (unsigned long long)t[i].table);
                    char g[40]; snprintf(g, sizeof(g), LINUX_EFI_TPM_EVENT_LOG_GUID);
                    char h[40]; snprintf(h, sizeof(h), LINUX_EFI_TPM_FINAL_LOG_GUID);
                    char mine[40]; const u8 *b = t[i].guid.b;
                    snprintf(mine, sizeof(mine), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                             b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
                    if (!strcmp(mine, g)) {
                      struct linux_efi_tpm_eventlog *l = P(t[i].table, sizeof(*l));
                      P(t[i].table, sizeof(*l) + l->size);
                      printf("tpm_log %u %u %u\\n", l->size, l->final_events_preboot_size, l->version);
                      FILE *o = fopen(argv[4], "wb"); fwrite(l->log, 1, l->size, o); fclose(o);
                    }
                    if (!strcmp(mine, h)) {
                      struct efi_tcg2_final_events_table *ft = P(t[i].table, sizeof(*ft));
                      printf("final_events %llu %llu\\n", (unsigned long long)ft->version, (unsigned long long)ft->nr_events);
                    }
                  }
                }
                pa = sd->next;
              }
              return 0;
            }
            """;

    /** What the C reader prints for {@code state}, and the log it found (written to dir/log.bin). */
    Map<String, List<String>> read(PostEbsState state, int nrTables) throws IOException {
        ByteArrayOutputStream img = new ByteArrayOutputStream();
        for (PostEbsState.Segment s : state.segments()) {
            ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(s.start()).putLong(s.data().length);
            img.write(h.array());
            img.write(s.data());
        }
        Path mem = dir.resolve("mem.bin");
        Files.write(mem, img.toByteArray());
        String out = KernelHeaders.compileAndRun(dir, "reader", KernelHeaders.prelude() + READER, mem.toString(),
                "0x" + Long.toHexString(state.bootParams()), Integer.toString(nrTables), dir.resolve("log.bin").toString());
        Map<String, List<String>> m = new HashMap<>();
        for (String l : out.split("\n")) {
            int sp = l.indexOf(' ');
            m.computeIfAbsent(l.substring(0, sp), k -> new ArrayList<>()).add(l.substring(sp + 1).trim());
        }
        return m;
    }

    static String hex(long v) {
        return Long.toHexString(v);
    }

    @Test
    void theNextKernelFindsTheRealFirmwareTheRealMemoryMapAndTheContinuedLogInTheTableCopy() throws IOException {
        byte[] log = new byte[5000];
        new Random(7).nextBytes(log);
        HostEfi efi = efi(true);
        PostEbsState out = LinuxHandOver.apply(captured(), RAM, efi, log);
        Map<String, List<String>> r = read(out, efi.configTable().size());

        assertEquals(List.of("1"), r.get("screen_info_zero"), "the emulated frame buffer is gone");
        assertEquals(List.of("EL64"), r.get("efi_loader_signature"));
        assertEquals(List.of(hex(efi.systab())), r.get("systab"));
        assertEquals(List.of("1"), r.get("secure_boot"));
        List<String> e820 = new ArrayList<>();
        for (HostEfi.E820Entry e : efi.e820()) e820.add(hex(e.start()) + " " + hex(e.end() - e.start()) + " " + e.type());
        assertEquals(e820, r.get("e820"), "e820_table = the firmware memory map");
        assertEquals(List.of("40 1"), r.get("memdesc"));
        List<String> md = new ArrayList<>();
        for (HostEfi.RuntimeRegion x : efi.runtimeMap()) {
            md.add(x.type() + " " + hex(x.physAddr()) + " " + hex(x.virtAddr()) + " " + x.numPages() + " " + hex(x.attribute()));
        }
        assertEquals(md, r.get("md"), "efi_memmap = the runtime map");

        // SETUP_EFI first, the stub's own node (SETUP_RNG_SEED, 32 bytes) after it
        List<String> sd = r.get("setup_data");
        assertEquals(2, sd.size(), sd.toString());
        assertTrue(sd.get(0).startsWith("4 "), sd.toString());
        assertEquals("9 32", sd.get(1));
        String[] esd = r.get("esd").get(0).split(" ");
        assertEquals(hex(efi.fwVendor()), esd[0]);
        assertEquals(hex(efi.smbios()), esd[2]);

        // the table copy: same entries, same order; the TPM log and the final events table replaced, nothing else
        List<String> tables = r.get("table");
        assertEquals(efi.configTable().size(), tables.size());
        for (int i = 0; i < tables.size(); i++) {
            HostEfi.ConfigEntry e = efi.configTable().get(i);
            String[] gt = tables.get(i).split(" ");
            assertEquals(e.guid().toString().toLowerCase(), gt[0]);
            boolean replaced = e.guid().equals(LinuxAbi.LINUX_EFI_TPM_EVENT_LOG_GUID)
                    || e.guid().equals(LinuxAbi.LINUX_EFI_TPM_FINAL_LOG_GUID);
            assertEquals(!replaced, hex(e.table()).equals(gt[1]), tables.get(i));
        }
        assertEquals(List.of(log.length + " 0 2"), r.get("tpm_log"), "size, final_events_preboot_size, TCG_2 format");
        assertArrayEquals(log, Files.readAllBytes(dir.resolve("log.bin")), "the log the kernel copies is the continued log");
        assertEquals(List.of("1 0"), r.get("final_events"), "an empty final events table: nothing appended to the log");

        // the data segment is new, page aligned, in the emulated RAM and clear of the captured ranges
        PostEbsState.Segment data = out.segments().get(out.segments().size() - 1);
        assertEquals(0, data.start() % 4096);
        assertTrue(data.start() >= RAM.get(0).start() && data.start() + data.data().length <= RAM.get(0).end());
        for (PostEbsState.Segment s : captured().segments()) {
            assertTrue(data.start() + data.data().length <= s.start() || s.start() + s.data().length <= data.start());
        }
        // only boot_params changed in the captured ranges: the kernel is as it was; what the kernel does not read
        // (the UKI's loaded image, the emulated firmware's runtime data) is left out
        assertArrayEquals(captured().segments().get(1).data(), out.segments().get(1).data());
        List<Long> starts = out.segments().stream().map(PostEbsState.Segment::start).toList();
        assertEquals(List.of(BP, KERNEL, CMDLINE, INITRD, data.start()), starts);
        // and the whole image obeys the real memory map
        LinuxHandOver.checkInRealRam(ResumeImage.of(out, RAM).segments(), efi.e820());
    }

    @Test
    void withoutATpmLogEntryToReplaceTheHandOverIsRefusedNotAdded() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> LinuxHandOver.apply(captured(), RAM, efi(false), new byte[64]));
        assertTrue(e.getMessage().contains("LINUX_EFI_TPM_EVENT_LOG"), e.getMessage());
    }

    @Test
    void aStubWithAnE820ExtensionOrNoEl64OrASegmentOutsideRealRamIsRefused() {
        PostEbsState c = captured();
        byte[] page = c.segments().get(0).data().clone();
        ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN).putInt(0x1008, LinuxAbi.SETUP_E820_EXT);
        List<PostEbsState.Segment> extSegs = new ArrayList<>(c.segments());
        extSegs.set(0, new PostEbsState.Segment(BP, MemoryType.LoaderData, page));
        PostEbsState ext = c.withSegments(extSegs);
        assertThrows(BadInputException.class, () -> LinuxHandOver.apply(ext, RAM, efi(true), new byte[64]));

        byte[] noSig = c.segments().get(0).data().clone();
        noSig[LinuxAbi.BP_EFI_LOADER_SIGNATURE + 2] = '3';
        List<PostEbsState.Segment> el32Segs = new ArrayList<>(c.segments());
        el32Segs.set(0, new PostEbsState.Segment(BP, MemoryType.LoaderData, noSig));
        PostEbsState el32 = c.withSegments(el32Segs);
        BadInputException e = assertThrows(BadInputException.class, () -> LinuxHandOver.apply(el32, RAM, efi(true), new byte[64]));
        assertTrue(e.getMessage().contains("EL64"), e.getMessage());

        List<KexecSegment> outside = List.of(new KexecSegment(new byte[0], 0x7d000000L, 0x1000));
        assertThrows(BadInputException.class, () -> LinuxHandOver.checkInRealRam(outside, efi(true).e820()));
        assertThrows(BadInputException.class, () -> LinuxHandOver.checkInRealRam(
                List.of(new KexecSegment(new byte[0], 0x9e000, 0x2000)), efi(true).e820()), "straddles RAM and reserved");
    }
}
