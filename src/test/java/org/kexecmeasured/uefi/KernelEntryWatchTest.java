package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.systemd.SystemdVersions;
import org.kexecmeasured.systemd.UkiVariants;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The direct kernel entry (systemd-stub ≥ 258: sections copied into allocated pages, entry called without
 * LoadImage/StartImage) is a hand-over only when the whole kernel image is in place, not its 32 entry bytes
 * (review finding 13). Real parts: Debian's systemd-stub of every suite ≥ 258 (and 257, which still
 * LoadImages, as the contrast), Debian's kernel; forged payloads are tiny PE32+ apps that carry the same
 * kernel as a {@code .linux} section and place it themselves, in full or in part.
 */
class KernelEntryWatchTest {

    /** Each real stub ≥ 258 enters the kernel directly, and the hand-off is its {@code .linux} byte for byte. */
    @Test
    void realStubsFrom258EnterTheWholeKernelDirectly() throws Exception {
        int seen = 0;
        for (SystemdVersions.Version v : SystemdVersions.all()) {
            if (v.major() < 257) continue;
            UkiVariants.Built b = UkiVariants.build(v, UkiVariants.Variant.PLAIN);
            EmulationResult r = Emulator.run(Files.readAllBytes(b.uki()), EmulatorOptions.builder()
                    .payloadName("BOOTX64.EFI").esp(b.esp()).timeBudgetMillis(60_000).build());
            assertNotNull(r.handOff(), "systemd " + v + " hands over a kernel");
            assertArrayEquals(Files.readAllBytes(b.profiles().get(0).get(".linux")), r.handOff().kernel(),
                    "systemd " + v + ": the kernel handed over is the UKI's .linux (objcopy's copy)");
            assertEquals(HandOff.Entry.EFI_STUB, r.handOff().entry());
            List<String> calls = r.trace().stream().map(TraceEntry::service).toList();
            if (v.major() >= 258) {
                // the direct route: no LoadImage of the kernel, so the watch (not the cut-over at StartImage) saw it
                assertFalse(calls.contains("LoadImage"), "systemd " + v + " enters the kernel without LoadImage: " + calls);
                seen++;
            } else {
                assertTrue(calls.contains("LoadImage"), "systemd " + v + " still LoadImages the kernel: " + calls);
            }
        }
        assertTrue(seen >= 1, "at least one systemd ≥ 258 ran: " + SystemdVersions.all());
    }

    /** A payload that lays the kernel out as the stub does (every section, zero tail) is handed over: the control. */
    @Test
    void aPayloadThatPlacesTheWholeKernelIsHandedOver() {
        byte[] kernel = RealParts.read(RealParts.kernel());
        EmulationResult r = run(placeAndEnter(kernel, Placement.WHOLE));
        assertNotNull(r.handOff(), "the whole kernel placed and entered is a hand-off");
        assertArrayEquals(kernel, r.handOff().kernel());
    }

    /** Only the 32 entry bytes at base + entry RVA: the old probe took it for the kernel; now it is refused. */
    @Test
    void aPayloadThatPlacesOnlyTheEntryCodeIsRefused() {
        byte[] kernel = RealParts.read(RealParts.kernel());
        EmulationException e = assertThrows(EmulationException.class, () -> run(placeAndEnter(kernel, Placement.ENTRY_ONLY)));
        assertTrue(e.getMessage().contains("differs from the kernel it holds"), e.getMessage());
    }

    /** The whole kernel with one byte of its last section changed (far from the entry code): refused, naming it. */
    @Test
    void aPayloadThatChangesOneByteOfTheKernelIsRefused() {
        byte[] kernel = RealParts.read(RealParts.kernel());
        EmulationException e = assertThrows(EmulationException.class, () -> run(placeAndEnter(kernel, Placement.ONE_BYTE_CHANGED)));
        String last = PeFile.parse(kernel).sections().get(PeFile.parse(kernel).sections().size() - 1).name();
        assertTrue(e.getMessage().contains("differs from the kernel it holds (" + last), e.getMessage());
    }

    private static EmulationResult run(byte[] payload) {
        return Emulator.run(payload, EmulatorOptions.builder().payloadName("forger.efi").timeBudgetMillis(60_000).build());
    }

    enum Placement { WHOLE, ENTRY_ONLY, ONE_BYTE_CHANGED }

    /**
     * A PE32+ app with {@code kernel} as its {@code .linux} section whose code does what systemd-stub 258's
     * linux_exec does — AllocatePages(AnyPages, LoaderCode, SizeOfImage), copy sections, call the entry as
     * {@code entry(ImageHandle, SystemTable)} — but copies what {@code how} says.
     */
    static byte[] placeAndEnter(byte[] kernel, Placement how) {
        PeFile k = PeFile.parse(kernel);
        long pages = (k.sizeOfImage() + 0xfff) >> 12;
        List<long[]> copies = new ArrayList<>(); // {dst RVA in the allocation, src offset in .linux, length}
        List<long[]> zeros = new ArrayList<>(); // {dst RVA, length}
        long flip = -1;
        for (Section s : k.sections()) {
            if (s.sizeOfRawData() == 0) continue;
            long raw = Math.min(s.sizeOfRawData(), s.virtualSize());
            if (how == Placement.ENTRY_ONLY) {
                long entry = k.addressOfEntryPoint();
                if (entry >= s.virtualAddress() && entry < s.virtualAddress() + raw) {
                    copies.add(new long[]{entry, s.pointerToRawData() + entry - s.virtualAddress(), KernelEntryWatch.PROBE});
                }
                continue;
            }
            copies.add(new long[]{s.virtualAddress(), s.pointerToRawData(), raw});
            if (s.virtualSize() > raw) zeros.add(new long[]{s.virtualAddress() + raw, s.virtualSize() - raw});
            if (how == Placement.ONE_BYTE_CHANGED) flip = s.virtualAddress() + raw - 1; // the last section's wins
        }
        // the code size does not depend on the values, so lay it out once to learn where .linux will be
        int codeLength = code(0, pages, copies, zeros, flip, k.addressOfEntryPoint()).length;
        int linuxRva = TestPayloads.secondSectionRva(codeLength);
        return TestPayloads.efiApp(code(linuxRva, pages, copies, zeros, flip, k.addressOfEntryPoint()), ".linux", kernel);
    }

    private static byte[] code(int linuxRva, long pages, List<long[]> copies, List<long[]> zeros, long flip, long entry) {
        Asm a = new Asm();
        a.put(0x53, 0x41, 0x54, 0x41, 0x55); // push rbx; push r12; push r13
        a.put(0x48, 0x83, 0xEC, 0x30); // sub rsp, 0x30
        a.put(0x49, 0x89, 0xCC); // mov r12, rcx  ImageHandle
        a.put(0x49, 0x89, 0xD5); // mov r13, rdx  SystemTable
        a.put(0x48, 0x8B, 0x5A, 0x60); // mov rbx, [rdx+0x60]  BootServices
        a.put(0x31, 0xC9); // xor ecx, ecx  AllocateAnyPages
        a.put(0xBA).le32(1); // mov edx, EfiLoaderCode
        a.put(0x41, 0xB8).le32(pages); // mov r8d, pages
        a.put(0x4C, 0x8D, 0x4C, 0x24, 0x28); // lea r9, [rsp+0x28]  &Memory
        a.put(0xFF, 0x53, 0x28); // call [rbx+0x28]  AllocatePages
        a.put(0x48, 0x85, 0xC0); // test rax, rax
        a.put(0x0F, 0x85); // jnz epilogue (rel32 patched below)
        int jnzAt = a.size();
        a.le32(0);
        a.put(0x48, 0x8B, 0x5C, 0x24, 0x28); // mov rbx, [rsp+0x28]  the allocation
        for (long[] c : copies) {
            a.put(0x48, 0x8D, 0xBB).le32(c[0]); // lea rdi, [rbx+dst]
            a.put(0x48, 0x8D, 0x35); // lea rsi, [rip+.linux+src]
            a.le32(linuxRva + c[1] - (0x1000 + a.size() + 4));
            a.put(0xB9).le32(c[2]); // mov ecx, length
            a.put(0xF3, 0xA4); // rep movsb
        }
        for (long[] z : zeros) {
            a.put(0x48, 0x8D, 0xBB).le32(z[0]); // lea rdi, [rbx+dst]
            a.put(0x31, 0xC0); // xor eax, eax
            a.put(0xB9).le32(z[1]); // mov ecx, length
            a.put(0xF3, 0xAA); // rep stosb
        }
        if (flip >= 0) {
            a.put(0x80, 0xB3).le32(flip).put(0x01); // xor byte [rbx+flip], 1
        }
        a.put(0x4C, 0x89, 0xE1); // mov rcx, r12  ImageHandle
        a.put(0x4C, 0x89, 0xEA); // mov rdx, r13  SystemTable
        a.put(0x48, 0x8D, 0x83).le32(entry); // lea rax, [rbx+entry]
        a.put(0xFF, 0xD0); // call rax
        a.patch32(jnzAt, a.size() - (jnzAt + 4));
        a.put(0x48, 0x83, 0xC4, 0x30, 0x41, 0x5D, 0x41, 0x5C, 0x5B, 0xC3); // add rsp, 0x30; pop r13; pop r12; pop rbx; ret
        return a.bytes();
    }

    /** Bytes of x86-64 code, appended in order. */
    private static final class Asm {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Asm put(int... b) {
            out.writeBytes(TestPayloads.bytes(b));
            return this;
        }

        Asm le32(long v) {
            out.writeBytes(TestPayloads.le32((int) v));
            return this;
        }

        int size() {
            return out.size();
        }

        void patch32(int at, int v) {
            byte[] b = out.toByteArray();
            System.arraycopy(TestPayloads.le32(v), 0, b, at, 4);
            out.reset();
            out.writeBytes(b);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
