package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kexecmeasured.uefi.TestPayloads.bytes;
import static org.kexecmeasured.uefi.TestPayloads.concat;
import static org.kexecmeasured.uefi.TestPayloads.imm64;
import static org.kexecmeasured.uefi.TestPayloads.le32;

/**
 * LoadImage from a buffer that is a section of the payload the guest has not touched (systemd-stub 252 loads its
 * {@code .linux} in place) takes the image from the payload's bytes instead of a copy out of guest memory; a
 * payload that changes the bytes in guest memory first must still have the changed bytes loaded, measured and
 * handed over: guest memory is what is measured, never the file. Real parts: Debian's kernel (the section); the
 * loader is a tiny PE32+ app. Oracles: the file's bytes themselves (with the one byte flipped, built here), and
 * pesign's Authenticode hash of that file against the digest of what was loaded.
 */
class LoadImageFromSectionTest {

    @Test
    void anUntouchedSectionIsLoadedAndHandedOverAsItIs() throws Exception {
        byte[] kernel = RealParts.read(RealParts.kernel());
        Run r = run(kernel, -1, false);
        assertTrue(r.fromPayload, "the image is the payload's section itself, not a copy out of guest memory");
        assertArrayEquals(kernel, r.loaded, "LoadImage measured the section's bytes");
        assertArrayEquals(kernel, r.result.handOff().kernel(), "the hand-off is the section");
    }

    @Test
    void aSectionTheGuestChangedFirstIsLoadedAsGuestMemoryHoldsIt() throws Exception {
        byte[] kernel = RealParts.read(RealParts.kernel());
        int flip = flipOffset(kernel);
        Run r = run(kernel, flip, true);
        assertTrue(!r.fromPayload, "the changed bytes come out of guest memory");
        byte[] changed = kernel.clone();
        changed[flip] ^= 1;
        assertArrayEquals(changed, r.loaded, "LoadImage measured guest memory (the flipped byte), not the file");
        assertArrayEquals(changed, r.result.handOff().kernel(), "the hand-off is what guest memory held");
        // the PCR 4 digest firmware would log for it: pesign's Authenticode hash of the changed file
        Path f = Files.createTempFile("changed-kernel", ".efi");
        try {
            Files.write(f, changed);
            String want = RealParts.pesignHash(f, "sha256");
            assertEquals(want, org.kexecmeasured.util.Hex.of(org.kexecmeasured.payload.pe.Authenticode
                    .digests(PeFile.parse(r.loaded), java.util.EnumSet.of(org.kexecmeasured.util.HashAlg.SHA256))
                    .get(org.kexecmeasured.util.HashAlg.SHA256)));
            assertTrue(!want.equals(RealParts.pesignHash(RealParts.kernel(), "sha256")), "the flip is in hashed bytes");
        } finally {
            Files.deleteIfExists(f);
        }
    }

    /** A section the guest read first (as systemd-stub 252 reads the kernel's header) is still the payload's. */
    @Test
    void aSectionTheGuestOnlyReadIsStillThePayloads() throws Exception {
        byte[] kernel = RealParts.read(RealParts.kernel());
        Run r = run(kernel, flipOffset(kernel), false);
        assertTrue(r.fromPayload, "read, not changed: the payload's section");
        assertArrayEquals(kernel, r.loaded);
        assertArrayEquals(kernel, r.result.handOff().kernel());
    }

    /** A byte in the middle of the kernel's largest section (its compressed payload, hashed by Authenticode). */
    private static int flipOffset(byte[] kernel) {
        Section big = null;
        for (Section s : PeFile.parse(kernel).sections()) {
            if (big == null || s.sizeOfRawData() > big.sizeOfRawData()) big = s;
        }
        return (int) (big.pointerToRawData() + big.sizeOfRawData() / 2);
    }

    private record Run(EmulationResult result, byte[] loaded, boolean fromPayload) {
    }

    private static Run run(byte[] kernel, int touch, boolean write) {
        List<byte[]> loads = new ArrayList<>();
        boolean[] fromPayload = new boolean[1];
        byte[] payload = loader(kernel, touch, write);
        PeFile pe = PeFile.parse(payload);
        Section linux = pe.section(".linux").orElseThrow();
        // held as a direct buffer, as the payload's file mapping is
        ByteBuffer mapped = ByteBuffer.allocateDirect(payload.length).put(0, payload).asReadOnlyBuffer();
        ByteBuffer section = mapped.slice((int) linux.pointerToRawData(), kernel.length);
        RecordingMeasurer rec = new RecordingMeasurer();
        Measurer m = new Measurer() {
            @Override
            public void measure(int pcr, int eventType, byte[] eventData, byte[] dataToHash, long flags) {
                rec.measure(pcr, eventType, eventData, dataToHash, flags);
            }

            @Override
            public void imageLoaded(ByteBuffer file, long address, long size, long linkTimeAddress, byte[] devicePath,
                                    boolean firstImage) {
                if (!firstImage) {
                    byte[] b = new byte[file.limit()];
                    file.get(0, b);
                    loads.add(b);
                    fromPayload[0] = org.kexecmeasured.util.ByteViews.sameMemory(file.duplicate().clear(), section);
                }
            }
        };
        EmulationResult r = Emulator.run(mapped, EmulatorOptions.builder().payloadName("loader.efi")
                .measurer(m).timeBudgetMillis(60_000).build());
        assertNotNull(r.handOff(), "the kernel was started: the cut-over");
        assertEquals(1, loads.size(), "one LoadImage");
        return new Run(r, loads.get(0), fromPayload[0]);
    }

    /**
     * A PE32+ app with {@code kernel} as its {@code .linux} section that (when {@code touch} >= 0) flips ({@code
     * write}) or reads the byte at {@code touch} of that section in guest memory, then calls LoadImage(FALSE, self,
     * NULL, .linux, size) and StartImage, as a stub loading its own section does.
     */
    private static byte[] loader(byte[] kernel, int touch, boolean write) {
        int len = code(0, kernel.length, touch, write).length;
        return TestPayloads.efiApp(code(TestPayloads.secondSectionRva(len), kernel.length, touch, write), ".linux", kernel);
    }

    private static byte[] code(int linuxRva, int size, int touch, boolean write) {
        byte[] prologue = concat(bytes(0x53, 0x56, 0x57), // push rbx; push rsi; push rdi
                bytes(0x48, 0x83, 0xEC, 0x40), // sub rsp, 0x40
                bytes(0x48, 0x89, 0xCE), // mov rsi, rcx  ImageHandle
                bytes(0x48, 0x89, 0xD3)); // mov rbx, rdx  SystemTable
        byte[] change = new byte[0];
        if (touch >= 0 && write) { // xor byte [rip+.linux+touch], 1 (7 bytes; RIP-relative to its end)
            int end = 0x1000 + prologue.length + 7;
            change = concat(bytes(0x80, 0x35), le32(linuxRva + touch - end), bytes(0x01));
        } else if (touch >= 0) { // mov al, [rip+.linux+touch] (6 bytes)
            int end = 0x1000 + prologue.length + 6;
            change = concat(bytes(0x8A, 0x05), le32(linuxRva + touch - end));
        }
        byte[] args = concat(bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]  BootServices
                bytes(0x31, 0xC9), // xor ecx, ecx  BootPolicy FALSE
                bytes(0x48, 0x89, 0xF2), // mov rdx, rsi  ParentImageHandle
                bytes(0x45, 0x31, 0xC0)); // xor r8d, r8d  DevicePath NULL
        int leaEnd = 0x1000 + prologue.length + change.length + args.length + 7;
        byte[] lea = concat(bytes(0x4C, 0x8D, 0x0D), le32(linuxRva - leaEnd)); // lea r9, [rip+.linux]
        byte[] rest = concat(
                bytes(0x48, 0xBF), imm64(size), // mov rdi, SourceSize
                bytes(0x48, 0x89, 0x7C, 0x24, 0x20), // mov [rsp+0x20], rdi
                bytes(0x48, 0x8D, 0x7C, 0x24, 0x30), // lea rdi, [rsp+0x30]
                bytes(0x48, 0x89, 0x7C, 0x24, 0x28), // mov [rsp+0x28], rdi  *ImageHandle
                bytes(0xFF, 0x90), le32(24 + 8 * BootService.LoadImage.ordinal()), // call [rax+LoadImage]
                bytes(0x48, 0x85, 0xC0), bytes(0x75, 0x14), // test rax, rax; jnz done (the 20 bytes below)
                bytes(0x48, 0x8B, 0x43, 0x60), // mov rax, [rbx+0x60]
                bytes(0x48, 0x8B, 0x4C, 0x24, 0x30), // mov rcx, [rsp+0x30]  ImageHandle
                bytes(0x31, 0xD2), // xor edx, edx
                bytes(0x45, 0x31, 0xC0), // xor r8d, r8d
                bytes(0xFF, 0x90), le32(24 + 8 * BootService.StartImage.ordinal()), // call [rax+StartImage]
                bytes(0x48, 0x83, 0xC4, 0x40, 0x5F, 0x5E, 0x5B, 0xC3)); // done: add rsp, 0x40; pop ×3; ret
        return concat(prologue, change, args, lea, rest);
    }
}
