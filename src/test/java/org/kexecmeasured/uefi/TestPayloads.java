package org.kexecmeasured.uefi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real inputs for the emulator tests: Debian's EFI binaries, make-uki, a tiny PE32+ writer and the small
 * payloads built with it (public: the CLI tests boot them too).
 */
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
    public static Path makeUki(Path out) throws IOException, InterruptedException {
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
        return efiApp(code, null, null);
    }

    /**
     * As {@link #tinyEfiApp}, with a second section {@code name} holding {@code data} at RVA
     * {@link #secondSectionRva}{@code (code.length)} (so the code can reach it RIP-relative).
     */
    public static byte[] efiApp(byte[] code, String name, byte[] data) {
        int raw = (code.length + 0x1ff) & ~0x1ff;
        int raw2 = data == null ? 0 : (data.length + 0x1ff) & ~0x1ff;
        int rva2 = secondSectionRva(code.length);
        ByteBuffer b = ByteBuffer.allocate(0x200 + raw + raw2).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) 'M').put(1, (byte) 'Z');
        b.putInt(0x3c, 0x40);
        int pe = 0x40;
        b.putInt(pe, 0x00004550); // "PE\0\0"
        b.putShort(pe + 4, (short) 0x8664);
        b.putShort(pe + 6, (short) (data == null ? 1 : 2));
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
        b.putInt(opt + 56, data == null ? rva2 : rva2 + ((data.length + 0xfff) & ~0xfff)); // SizeOfImage
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
        if (data != null) {
            sec += 40;
            b.put(sec, name.getBytes(StandardCharsets.US_ASCII));
            b.putInt(sec + 8, data.length);
            b.putInt(sec + 12, rva2);
            b.putInt(sec + 16, raw2);
            b.putInt(sec + 20, 0x200 + raw);
            b.putInt(sec + 36, 0x40000040); // initialized data, read
        }
        b.position(0x200);
        b.put(code);
        if (data != null) {
            b.position(0x200 + raw);
            b.put(data);
        }
        return b.array();
    }

    /** The RVA of {@link #efiApp}'s second section for code of {@code codeLength} bytes. */
    public static int secondSectionRva(int codeLength) {
        return 0x1000 + ((codeLength + 0xfff) & ~0xfff);
    }

    /**
     * An application that calls GetNextMonotonicCount forever: progress (a service call per loop) that never ends,
     * for the progress line and the time budget; it assumes nothing about the machine's speed.
     */
    public static byte[] countLoop() {
        return tinyEfiApp(bytes(
                0x48, 0x8b, 0x5a, 0x60,             // mov rbx, [rdx+0x60]   ; SystemTable->BootServices
                0x48, 0x83, 0xec, 0x28,             // sub rsp, 0x28          ; shadow space
                0x48, 0x8d, 0x4c, 0x24, 0x20,       // loop: lea rcx, [rsp+0x20]
                0xff, 0x93, 0xf0, 0x00, 0x00, 0x00, // call [rbx+0xf0]        ; BootServices->GetNextMonotonicCount
                0xeb, 0xf3));                       // jmp loop
    }

    public static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    public static byte[] concat(byte[]... parts) {
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

    public static byte[] imm64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    public static byte[] le32(int v) {
        return bytes(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    }

    /** {@code call [rax+BootServices.service]} (the table's function pointers follow its 24-byte header). */
    private static byte[] callBootService(BootService service) {
        return concat(bytes(0xFF, 0x90), le32(24 + 8 * service.ordinal()));
    }

    /**
     * Prints {@code text} on ConOut, then calls Stall(microseconds) {@code times} times (0: forever), then
     * returns EFI_ABORTED: systemd's freeze() after a failed assertion is {@code for (;;) BS->Stall(60 s)}.
     */
    public static byte[] printThenStall(String text, int microseconds, int times) {
        byte[] msg = (text + "\0").getBytes(StandardCharsets.UTF_16LE);
        byte[] loopBody = concat(
                bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]  BootServices
                bytes(0xB9), le32(microseconds), // mov ecx, microseconds
                callBootService(BootService.Stall));
        byte[] counted = times == 0
                ? concat(loopBody, bytes(0xEB, -(loopBody.length + 2) & 0xff)) // jmp loop
                : concat(loopBody, bytes(0xFF, 0xCE), // dec esi
                        bytes(0x75, -(loopBody.length + 4) & 0xff)); // jnz loop
        byte[] tail = bytes(0x48, 0xB8, 21, 0, 0, 0, 0, 0, 0, 0x80, // mov rax, EFI_ABORTED
                0x48, 0x83, 0xC4, 0x28, 0x5E, 0x5B, 0xC3); // add rsp, 0x28; pop rsi; pop rbx; ret
        byte[] head0 = concat(bytes(0x53, 0x56), // push rbx; push rsi
                bytes(0x48, 0x83, 0xEC, 0x28), // sub rsp, 0x28
                bytes(0x48, 0x89, 0xD3), // mov rbx, rdx  SystemTable
                bytes(0xBE), le32(times), // mov esi, times
                bytes(0x48, 0x8B, 0x4A, 0x40)); // mov rcx, [rdx+0x40]  ConOut
        int afterLea = head0.length + 7;
        int callLen = 3;
        int strOff = afterLea + callLen + counted.length + tail.length;
        byte[] head = concat(head0, bytes(0x48, 0x8D, 0x15), le32(strOff - afterLea), // lea rdx, [rip+string]
                bytes(0xFF, 0x51, 0x08)); // call [rcx+8]  OutputString
        return tinyEfiApp(concat(head, counted, tail, msg));
    }

    /**
     * Loads {@code child} from a memory buffer with no device path (LoadImage(FALSE, self, NULL, buffer, size)),
     * as a loader that holds an image in memory does, then starts it and returns its status. UEFI gives such an
     * image no DeviceHandle (EDK2's CoreLoadImage leaves it NULL): systemd-stub 254 asserts on that.
     */
    public static byte[] chainLoadFromMemory(byte[] child) {
        byte[] prologue = concat(bytes(0x53, 0x56, 0x57), // push rbx; push rsi; push rdi
                bytes(0x48, 0x83, 0xEC, 0x40), // sub rsp, 0x40: shadow space, two stack arguments, the handle
                bytes(0x48, 0x89, 0xCE), // mov rsi, rcx  ImageHandle
                bytes(0x48, 0x89, 0xD3), // mov rbx, rdx  SystemTable
                bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]  BootServices
                bytes(0x31, 0xC9), // xor ecx, ecx  BootPolicy FALSE
                bytes(0x48, 0x89, 0xF2), // mov rdx, rsi  ParentImageHandle
                bytes(0x45, 0x31, 0xC0)); // xor r8d, r8d  DevicePath NULL
        byte[] afterLea = concat(
                bytes(0x48, 0xBF), imm64(child.length), // mov rdi, SourceSize
                bytes(0x48, 0x89, 0x7C, 0x24, 0x20), // mov [rsp+0x20], rdi
                bytes(0x48, 0x8D, 0x7C, 0x24, 0x30), // lea rdi, [rsp+0x30]
                bytes(0x48, 0x89, 0x7C, 0x24, 0x28), // mov [rsp+0x28], rdi  *ImageHandle
                callBootService(BootService.LoadImage));
        byte[] start = concat(
                bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]
                bytes(0x48, 0x8B, 0x4C, 0x24, 0x30), // mov rcx, [rsp+0x30]  ImageHandle
                bytes(0x31, 0xD2), // xor edx, edx  ExitDataSize NULL
                bytes(0x45, 0x31, 0xC0), // xor r8d, r8d  ExitData NULL
                callBootService(BootService.StartImage));
        byte[] check = concat(bytes(0x48, 0x85, 0xC0), bytes(0x75, start.length)); // test rax, rax; jnz done
        byte[] epilogue = bytes(0x48, 0x83, 0xC4, 0x40, 0x5F, 0x5E, 0x5B, 0xC3); // add rsp, 0x40; pop ×3; ret
        int leaEnd = prologue.length + 7;
        int codeLen = leaEnd + afterLea.length + check.length + start.length + epilogue.length;
        int childOff = (codeLen + 15) & ~15;
        byte[] code = concat(prologue, bytes(0x4C, 0x8D, 0x0D), le32(childOff - leaEnd), // lea r9, [rip+child]
                afterLea, check, start, epilogue);
        return tinyEfiApp(concat(code, new byte[childOff - codeLen], child));
    }

    /**
     * Takes the memory map, calls ExitBootServices itself and jumps out of its image (to the system table's
     * address): a payload that ends boot services without handing over any kernel. Returns its status when
     * either call fails.
     */
    public static byte[] exitBootServicesWithoutAKernel() {
        int mapBytes = 0x4000;
        byte[] prologue = concat(bytes(0x53, 0x56, 0x57), // push rbx; push rsi; push rdi
                bytes(0x48, 0x83, 0xEC, 0x60), // sub rsp, 0x60
                bytes(0x48, 0x89, 0xCE), // mov rsi, rcx  ImageHandle
                bytes(0x48, 0x89, 0xD3), // mov rbx, rdx  SystemTable
                bytes(0x48, 0xC7, 0x44, 0x24, 0x30), le32(mapBytes), // mov qword [rsp+0x30], MapSize
                bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]
                bytes(0x48, 0x8D, 0x4C, 0x24, 0x30)); // lea rcx, [rsp+0x30]  &MapSize
        byte[] afterLea = concat(
                bytes(0x4C, 0x8D, 0x44, 0x24, 0x38), // lea r8, [rsp+0x38]  &MapKey
                bytes(0x4C, 0x8D, 0x4C, 0x24, 0x40), // lea r9, [rsp+0x40]  &DescriptorSize
                bytes(0x48, 0x8D, 0x7C, 0x24, 0x48), // lea rdi, [rsp+0x48]
                bytes(0x48, 0x89, 0x7C, 0x24, 0x20), // mov [rsp+0x20], rdi  &DescriptorVersion
                callBootService(BootService.GetMemoryMap));
        byte[] ebs = concat(
                bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]
                bytes(0x48, 0x89, 0xF1), // mov rcx, rsi  ImageHandle
                bytes(0x48, 0x8B, 0x54, 0x24, 0x38), // mov rdx, [rsp+0x38]  MapKey
                callBootService(BootService.ExitBootServices));
        byte[] jumpOut = bytes(0xFF, 0xE3); // jmp rbx
        byte[] epilogue = bytes(0x48, 0x83, 0xC4, 0x60, 0x5F, 0x5E, 0x5B, 0xC3); // add rsp, 0x60; pop ×3; ret
        byte[] check2 = concat(bytes(0x48, 0x85, 0xC0), bytes(0x75, jumpOut.length)); // test rax, rax; jnz epilogue
        byte[] check1 = concat(bytes(0x48, 0x85, 0xC0), bytes(0x75, ebs.length + check2.length + jumpOut.length));
        int leaEnd = prologue.length + 7;
        int codeLen = leaEnd + afterLea.length + check1.length + ebs.length + check2.length + jumpOut.length + epilogue.length;
        int mapOff = (codeLen + 15) & ~15;
        byte[] code = concat(prologue, bytes(0x48, 0x8D, 0x15), le32(mapOff - leaEnd), // lea rdx, [rip+map]
                afterLea, check1, ebs, check2, jumpOut, epilogue);
        return tinyEfiApp(concat(code, new byte[mapOff - codeLen + mapBytes]));
    }
}
