package org.kexecmeasured.payload.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.Inspector;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.DataDirectory;
import org.kexecmeasured.payload.pe.PeFile;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bzImage setup header on Debian's kernel (oracles: libmagic's `file`, xz and readelf on the
 * payload the header locates). No arm64 or zboot kernel ships for Debian 12 amd64, so those
 * headers are written here from the documented layouts (booting.rst, zboot-header.S) into a real
 * PE (systemd-boot), whose DOS-header bytes those formats reuse.
 */
class LinuxHeadersTest {

    @TempDir
    Path tmp;

    @Test
    void debianKernelSetupHeader() throws IOException {
        Path k = RealParts.kernel();
        byte[] b = RealParts.read(k);
        BzImage h = BzImage.parse(b);
        String file = RealParts.run(List.of("file", "-b", k.toString()), "file");
        Matcher m = Pattern.compile("version ([^,]+)").matcher(file);
        assertTrue(m.find(), file);
        assertEquals(m.group(1).strip(), h.kernelVersion(), "kernel version string as libmagic reads it");
        assertTrue(h.version() >= 0x20f, "a 6.x kernel speaks boot protocol >= 2.15: " + h.versionText());
        assertTrue((h.xloadFlags() & BzImage.XLF_KERNEL_64) != 0);
        assertTrue((h.xloadFlags() & BzImage.XLF_EFI_HANDOVER_64) != 0);
        assertTrue(h.handoverOffset() > 0);
        assertTrue(h.relocatableKernel());
        assertEquals(0x200000, h.kernelAlignment());
        assertEquals(2047, h.cmdlineSize(), "x86 COMMAND_LINE_SIZE 2048 minus the NUL");
        assertNotNull(h.kernelInfo(), "protocol 2.15 kernel_info");
        assertTrue(h.kernelInfo().sizeTotal() >= h.kernelInfo().size());

        // setup + syssize paragraphs cover exactly the unsigned image: the signature starts there
        PeFile pe = PeFile.parse(b);
        DataDirectory cert = pe.dataDirectory(DataDirectory.SECURITY);
        assertEquals(cert.virtualAddress(), h.protectedModeOffset() + h.sysSize() * 16);

        // the payload the header points at is an xz stream that decompresses to the x86-64 ELF vmlinux
        assertEquals("xz", h.payloadCompression());
        Path xz = tmp.resolve("payload.xz");
        Files.write(xz, Arrays.copyOfRange(b, (int) h.payloadFileOffset(), (int) (h.payloadFileOffset() + h.payloadLength())));
        Path elf = tmp.resolve("vmlinux");
        RealParts.run(List.of("sh", "-c", "xz -dc --single-stream '" + xz + "' > '" + elf + "'"), "xz-utils");
        String readelf = RealParts.run(List.of("readelf", "-h", elf.toString()), "binutils");
        assertTrue(readelf.contains("X86-64"), readelf);
        assertTrue(h.initSize() >= Files.size(elf) / 2, "init_size covers the decompressed kernel's memory");
    }

    private static void put32(byte[] b, int off, long v) {
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(off, (int) v);
    }

    private static void put64(byte[] b, int off, long v) {
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(off, v);
    }

    @Test
    void arm64ImageHeaderInAPe() {
        byte[] b = RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi")).clone();
        put64(b, 8, 0);              // text_offset
        put64(b, 16, 0x2a30000);     // image_size
        put64(b, 24, 0b1010);        // LE, 4K pages, placement anywhere
        put32(b, 0x38, 0x644d5241L); // "ARM\x64"; 0x3c stays the PE offset
        Arm64Image a = Arm64Image.parse(b);
        assertEquals(0x2a30000, a.imageSize());
        assertEquals("4K", a.pageSize());
        assertTrue(a.physPlacementAnywhere());
        assertTrue(a.hasEfiStub(b));
        Map<String, Object> r = Inspector.inspect(b, Inspector.Options.defaults()).report();
        assertEquals("arm64 Image with EFI stub", r.get("type"));

        byte[] raw = new byte[4096];
        put64(raw, 24, 0b0110);      // 64K pages
        put32(raw, 0x38, 0x644d5241L);
        Map<String, Object> r2 = Inspector.inspect(raw, Inspector.Options.defaults()).report();
        assertEquals("arm64 Image (no EFI stub)", r2.get("type"));
        assertEquals("64K", Arm64Image.parse(raw).pageSize());
    }

    @Test
    void zbootHeaderInAPe() throws IOException {
        byte[] pe = RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(gz)) {
            z.write("not really a kernel".repeat(100).getBytes(StandardCharsets.US_ASCII));
        }
        byte[] payload = gz.toByteArray();
        byte[] b = Arrays.copyOf(pe, pe.length + payload.length); // trailing data after the last section
        System.arraycopy(payload, 0, b, pe.length, payload.length);
        System.arraycopy("zimg".getBytes(StandardCharsets.US_ASCII), 0, b, 4, 4);
        put32(b, 8, pe.length);
        put32(b, 12, payload.length);
        System.arraycopy("gzip\0".getBytes(StandardCharsets.US_ASCII), 0, b, 0x18, 5);
        ZbootHeader z = ZbootHeader.parse(b);
        assertEquals("gzip", z.compressionType());
        assertEquals("gzip", z.detectedCompression());
        assertEquals(pe.length, z.payloadOffset());
        Map<String, Object> r = Inspector.inspect(b, Inspector.Options.defaults()).report();
        assertEquals("EFI zboot image", r.get("type"));
    }
}
