package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.DataDirectory;
import org.kexecmeasured.payload.pe.PeFile;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile and broken files through the real CLI entry point: exit code 2 and exactly one line on
 * stderr naming the problem, nothing on stdout, no stack trace.
 */
class InspectBadInputTest {

    @TempDir
    static Path tmp;
    static byte[] boot;
    static byte[] grub;

    @BeforeAll
    static void load() {
        boot = RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
        grub = RealParts.read(RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed"));
    }

    /** Writes the bytes, runs inspect, asserts the one-line exit-2 contract; returns the line. */
    static String assertBadInput(String name, byte[] data, String expectedFragment) throws IOException {
        Path f = tmp.resolve(name);
        Files.write(f, data);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"inspect", f.toString()}, new PrintWriter(out), new PrintWriter(err));
        String e = err.toString();
        assertEquals(Main.EXIT_BAD_INPUT, rc, name + ": " + e);
        assertEquals(1, e.lines().count(), name + ": one line: " + e);
        assertTrue(e.startsWith("kexec-measured: error: "), e);
        assertFalse(e.contains("Exception"), e);
        assertFalse(e.contains("\tat "), e);
        assertEquals("", out.toString(), "nothing on stdout");
        assertTrue(e.contains(expectedFragment), name + ": expected '" + expectedFragment + "' in: " + e);
        return e;
    }

    static byte[] patch32(byte[] src, int off, long v) {
        byte[] b = src.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(off, (int) v);
        return b;
    }

    static byte[] patch16(byte[] src, int off, int v) {
        byte[] b = src.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putShort(off, (short) v);
        return b;
    }

    /**
     * systemd-stub 252 locates sections by name prefix and keeps the last match, so a second header
     * matching ".linux" would make the shown and predicted content differ from what the stub boots.
     */
    @Test
    void ukiWithAmbiguousSectionNamesIsRefused() throws IOException {
        Path dir = tmp.resolve("ambiguous");
        Path uki = RealParts.makeUki(dir);
        Path extra = dir.resolve("other-kernel");
        java.nio.file.Files.write(extra, new byte[4096]);
        Path out = dir.resolve("two-linux.efi");
        RealParts.run(java.util.List.of("objcopy", "--add-section", ".linux2=" + extra,
                "--change-section-vma", ".linux2=0x5000000", uki.toString(), out.toString()), "binutils");
        assertBadInput("two-linux", java.nio.file.Files.readAllBytes(out), "section headers match '.linux'");
    }

    @Test
    void emptyFile() throws IOException {
        assertBadInput("empty", new byte[0], "empty file");
    }

    @Test
    void truncatedHeaders() throws IOException {
        assertBadInput("trunc-dos", Arrays.copyOf(boot, 0x30), "too short");
        assertBadInput("trunc-pe", Arrays.copyOf(boot, 0x90), "e_lfanew");
        PeFile pe = PeFile.parse(boot);
        assertBadInput("trunc-opt", Arrays.copyOf(boot, pe.optionalHeaderOffset() + 40), "optional header");
        assertBadInput("trunc-sections", Arrays.copyOf(boot, pe.sectionTableOffset() + 50), "section table");
        assertBadInput("trunc-data", Arrays.copyOf(boot, boot.length / 2), "past the end of the file");
    }

    @Test
    void sectionTablePastEof() throws IOException {
        PeFile pe = PeFile.parse(boot);
        assertBadInput("nsections", patch16(boot, pe.peHeaderOffset() + 6, 0xffff), "section table");
    }

    @Test
    void overlappingAndHugeSections() throws IOException {
        PeFile pe = PeFile.parse(boot);
        int s0 = pe.sectionTableOffset();
        int s1 = s0 + 40;
        // second section's raw data pointer = first section's
        assertBadInput("overlap-raw", patch32(boot, s1 + 20, pe.sections().get(0).pointerToRawData()), "overlaps");
        // second section's RVA inside the first one
        assertBadInput("overlap-va", patch32(boot, s1 + 12, pe.sections().get(0).virtualAddress()), "overlaps");
        // 4 GiB virtual size, raw size past the end of the file
        assertBadInput("huge-vsize", patch32(boot, s0 + 8, 0xffffffffL), "SizeOfImage");
        assertBadInput("huge-raw", patch32(boot, s0 + 16, 0xfffff000L), "past the end of the file");
        assertBadInput("huge-rva-count", patch32(boot, pe.optionalHeaderOffset() + 108, 0x7fffffff), "NumberOfRvaAndSizes");
        assertBadInput("huge-headers", patch32(boot, pe.optionalHeaderOffset() + 60, 0xfffffff0L), "SizeOfHeaders");
    }

    @Test
    void certificateTableOutsideTheFile() throws IOException {
        PeFile pe = PeFile.parse(grub);
        int dir = pe.certificateTableDirOffset();
        assertBadInput("cert-past-eof", patch32(grub, dir, grub.length + 4096), "certificate table");
        assertBadInput("cert-size-past-eof", patch32(grub, dir + 4, pe.dataDirectory(DataDirectory.SECURITY).size() + 8), "certificate");
        assertBadInput("cert-in-headers", patch32(grub, dir, 0x10), "certificate table");
        // a WIN_CERTIFICATE whose dwLength runs past the table
        int at = (int) pe.dataDirectory(DataDirectory.SECURITY).virtualAddress();
        assertBadInput("wincert-length", patch32(grub, at, 0x7fffffff), "dwLength");
        // garbage where the PKCS#7 should be
        byte[] junk = grub.clone();
        for (int i = at + 8; i < at + 64; i++) junk[i] = (byte) 0xA5;
        assertBadInput("pkcs7-garbage", junk, "PKCS#7");
    }

    @Test
    void randomBytes() throws IOException {
        Random rnd = new Random(20261126);
        byte[] r = new byte[65536];
        rnd.nextBytes(r);
        r[0] = 0x13; // keep the seeded data clear of every magic number
        assertBadInput("random", r, "not a recognised payload");
        byte[] mz = r.clone();
        mz[0] = 'M';
        mz[1] = 'Z';
        assertBadInput("random-mz", mz, "PE");
        byte[] pe = r.clone();
        System.arraycopy(boot, 0, pe, 0, 0x100); // real DOS+PE signature, random beyond
        assertBadInput("random-after-pe-signature", pe, "PE");
    }

    /** Sections without file data may carry any PointerToRawData; nothing may read through it. */
    @Test
    void ukiSectionsWithoutRawDataAndWildPointers() throws IOException {
        Path dir = tmp.resolve("uki");
        byte[] uki = RealParts.read(RealParts.makeUki(dir));
        PeFile pe = PeFile.parse(uki);
        byte[] b = uki.clone();
        for (int i = 0; i < pe.sections().size(); i++) {
            String n = pe.sections().get(i).name();
            if (n.equals(".osrel") || n.equals(".cmdline") || n.equals(".linux")) {
                int sh = pe.sectionTableOffset() + 40 * i;
                b = patch32(b, sh + 16, 0);           // SizeOfRawData = 0
                b = patch32(b, sh + 20, 0xfffffff0L); // PointerToRawData far outside
            }
        }
        Path f = tmp.resolve("wild.efi");
        Files.write(f, b);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"inspect", f.toString()}, new PrintWriter(out), new PrintWriter(err));
        assertEquals(0, rc, err.toString());
        assertTrue(out.toString().contains("type: UKI"), out.toString());
        assertTrue(out.toString().contains("error: .linux has no data in the file"), out.toString());
    }

    @Test
    void missingFileIsBadInput() {
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"inspect", tmp.resolve("does-not-exist").toString()},
                new PrintWriter(new StringWriter()), new PrintWriter(err));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertEquals(1, err.toString().lines().count(), err.toString());
    }
}
