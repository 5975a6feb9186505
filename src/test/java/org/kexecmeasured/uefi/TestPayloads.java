package org.kexecmeasured.uefi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real inputs for the emulator tests: Debian's EFI binaries, make-uki, and a tiny PE32+ writer. */
public final class TestPayloads {
    private TestPayloads() {
    }

    static final Path STUB = Path.of("/usr/lib/systemd/boot/efi/linuxx64.efi.stub");
    static final Path SD_BOOT = Path.of("/usr/lib/systemd/boot/efi/systemd-bootx64.efi");

    /** Fails (never skips) when a Debian file is missing, naming the package. */
    static Path require(Path p, String pkg) {
        assertTrue(Files.isRegularFile(p), p + " is missing: install the Debian package " + pkg
                + " (tests/bin/install-deps)");
        return p;
    }

    /** Runs tests/bin/make-uki OUT; returns OUT (demo.efi, vmlinuz, initrd.cpio, cmdline.txt, os-release). */
    static Path makeUki(Path out) throws IOException, InterruptedException {
        require(STUB, "systemd-boot-efi");
        Path script = Path.of("tests/bin/make-uki").toAbsolutePath();
        Process p = new ProcessBuilder("sh", script.toString(), out.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "make-uki timed out");
        assertEquals(0, p.exitValue(), "make-uki failed (needs binutils, cpio, linux-image-amd64): " + log);
        return out;
    }

    /**
     * A minimal PE32+ EFI application: headers in 0x200 bytes, one .text section at RVA 0x1000 holding
     * {@code code}, entry at its start, ImageBase 0 and no relocations (the code must be position independent).
     */
    public static byte[] tinyEfiApp(byte[] code) {
        int raw = (code.length + 0x1ff) & ~0x1ff;
        ByteBuffer b = ByteBuffer.allocate(0x200 + raw).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) 'M').put(1, (byte) 'Z');
        b.putInt(0x3c, 0x40);
        int pe = 0x40;
        b.putInt(pe, 0x00004550); // "PE\0\0"
        b.putShort(pe + 4, (short) 0x8664);
        b.putShort(pe + 6, (short) 1);
        b.putShort(pe + 20, (short) 0xF0);
        b.putShort(pe + 22, (short) 0x22);
        int opt = pe + 24;
        b.putShort(opt, (short) 0x20b);
        b.putInt(opt + 4, raw); // SizeOfCode
        b.putInt(opt + 16, 0x1000); // AddressOfEntryPoint
        b.putInt(opt + 20, 0x1000); // BaseOfCode
        b.putLong(opt + 24, 0); // ImageBase
        b.putInt(opt + 32, 0x1000); // SectionAlignment
        b.putInt(opt + 36, 0x200); // FileAlignment
        b.putInt(opt + 56, 0x1000 + ((raw + 0xfff) & ~0xfff)); // SizeOfImage
        b.putInt(opt + 60, 0x200); // SizeOfHeaders
        b.putShort(opt + 68, (short) 10); // Subsystem: EFI application
        b.putInt(opt + 108, 16); // NumberOfRvaAndSizes
        int sec = opt + 0xF0;
        b.put(sec, ".text".getBytes());
        b.putInt(sec + 8, code.length);
        b.putInt(sec + 12, 0x1000);
        b.putInt(sec + 16, raw);
        b.putInt(sec + 20, 0x200);
        b.putInt(sec + 36, 0x60000020); // code, execute, read
        b.position(0x200);
        b.put(code);
        return b.array();
    }

    public static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    static byte[] imm64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }
}
