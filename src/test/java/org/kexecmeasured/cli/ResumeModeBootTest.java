package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.kexec.KexecErrors;
import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.kexec.KexecSegment;
import org.kexecmeasured.kexec.KernelState;
import org.kexecmeasured.kexec.ResumeLoader;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Resume mode ({@code boot --full-emulation}) with Debian's memtest86+ (an EFI payload that is no Linux kernel) on a
 * real swtpm, with the kexec system calls recorded (a build machine must never load a kernel; the real kexec_load
 * runs in the QEMU guest, tests/e2e resume scenario):
 * <ul>
 *   <li>the state is captured where memtest's ExitBootServices returns: objdump's disassembly of memtest86+x64.efi
 *   is the oracle that the captured RIP follows a call instruction in memtest's code;</li>
 *   <li>the kexec_load image, run on a real x86_64 CPU model (Unicorn) from its entry point, reaches that RIP with
 *   the captured registers and the captured memory in place;</li>
 *   <li>under lockdown, and when the kernel answers EPERM, the boot is refused with the reason and no PCR of any bank
 *   changed (tpm2_pcrread before and after), no journal written.</li>
 * </ul>
 */
class ResumeModeBootTest {

    static final List<String> BANKS = List.of("sha1", "sha256");
    static final String ALL = "sha1:all+sha256:all";
    /** A QEMU q35 guest's firmware map with 1 GiB (below 1 MiB is left out by HostMemory). */
    static final List<RamRange> RAM = List.of(new RamRange(0x100000, 0x4000_0000L));

    @TempDir
    static Path dir;
    static Path fwFile;
    static byte[] memtest;

    @BeforeAll
    static void setUp() throws Exception {
        memtest = Files.readAllBytes(RealParts.require(RealParts.MEMTEST, "memtest86+"));
        fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
    }

    private static MeasuredBoot.Request request(Path state) {
        return new MeasuredBoot.Request(memtest, "memtest86+x64.efi", null, fwFile, state, null,
                BootPolicy.BUILTIN_DEFAULT, "test", 120_000).resume(RAM);
    }

    private static KernelState.Lockdown lockdownOf(RecordingKexec k) {
        return k.lockdown;
    }

    private static ResumeLoader loader(RecordingKexec k) {
        return new ResumeLoader(k, () -> new KernelState(k.loaded, false, 0L, false, lockdownOf(k)), () -> true, RAM);
    }

    @Test
    void memtestIsCapturedWhereItsExitBootServicesReturnsAndTheImageResumesThere() throws Exception {
        RecordingKexec k = new RecordingKexec();
        MeasuredBoot.Result r;
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile); Tpm tpm = swtpm.open()) {
            r = MeasuredBoot.run(request(dir.resolve("state-ok")), tpm, Decider.builtin(Set.of()), loader(k));
        }
        PostEbsState s = r.plan().resume();
        assertNotNull(s, "a resume state");
        assertEquals(0L, s.registers().get("RAX"), "EFI_SUCCESS from ExitBootServices in RAX");
        assertEquals(List.of("kexec_load"), k.calls, "one kexec_load, nothing else");
        assertTrue(r.loaded().describe().contains("kexec_load (resume mode)"), r.loaded().describe());

        // objdump: the captured RIP is memtest's, right after a call (the return from ExitBootServices)
        PostEbsState.Segment image = s.segments().stream()
                .filter(g -> g.type() == org.kexecmeasured.uefi.spi.MemoryType.LoaderCode
                        && s.entry() >= g.start() && s.entry() < g.start() + g.data().length)
                .findFirst().orElseThrow(() -> new AssertionError("RIP 0x" + Long.toHexString(s.entry()) + " is in no loaded image"));
        long imageBase = objdumpImageBase();
        long rva = s.entry() - image.start();
        String prev = instructionBefore(imageBase + rva);
        assertTrue(prev.matches(".*\\bcall\\b.*"), "the instruction before the resume RIP (RVA 0x" + Long.toHexString(rva)
                + ") is a call: " + prev);

        // every segment in the emulated (= real) RAM, page aligned, at most 16
        assertTrue(k.segments.size() <= 16);
        for (KexecSegment g : k.segments) {
            assertTrue(RAM.stream().anyMatch(x -> g.mem() >= x.start() && g.end() <= x.end()),
                    "segment 0x" + Long.toHexString(g.mem()) + " outside RAM");
        }
        // run the image from its entry: the purgatory must land on the captured RIP with the captured registers
        try (UnicornCpu cpu = new UnicornCpu()) {
            for (KexecSegment g : k.segments) {
                cpu.map(g.mem(), g.memsz());
                cpu.memory().write(g.mem(), g.buf());
            }
            Map<String, Long> at = new LinkedHashMap<>();
            cpu.addCodeHook(s.entry(), a -> {
                for (Cpu.Reg reg : Cpu.Reg.values()) at.put(reg.name(), cpu.reg(reg));
                cpu.stop();
            });
            cpu.run(k.entry, 10_000_000);
            assertEquals(s.entry(), at.get("RIP"), "reached the resume point");
            for (String reg : List.of("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "R8", "R9", "R10", "R11",
                    "R12", "R13", "R14", "R15", "CS", "DS")) {
                assertEquals(s.registers().get(reg), at.get(reg), reg);
            }
            // the return address memtest's call pushed was popped: the stack holds memtest's own frame, in a segment
            long rsp = at.get("RSP");
            assertTrue(k.segments.stream().anyMatch(g -> rsp >= g.mem() && rsp < g.end()), "the stack was captured");
        }
    }

    @Test
    void underLockdownResumeModeIsRefusedBeforeAnyTpmWrite() throws Exception {
        RecordingKexec k = new RecordingKexec();
        k.lockdown = KernelState.Lockdown.INTEGRITY;
        Path state = dir.resolve("state-lockdown");
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            KexecException e;
            try (Tpm tpm = swtpm.open()) {
                e = assertThrows(KexecException.class, () -> MeasuredBoot.run(request(state), tpm, Decider.builtin(Set.of()), loader(k)));
            }
            assertEquals(KexecException.Kind.REFUSED, e.kind());
            assertTrue(e.getMessage().contains("locked down (integrity)") && e.getMessage().contains("nothing was extended"),
                    e.getMessage());
            assertEquals(List.of(), k.calls, "refused before the system call");
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "no PCR changed");
            assertFalse(Files.exists(state.resolve("journal.jsonl")), "no journal");
        }
    }

    @Test
    void anEpermFromTheKernelIsRefusedBeforeAnyTpmWrite() throws Exception {
        RecordingKexec k = new RecordingKexec();
        k.failLoadWith = KexecErrors.EPERM; // lockdown not visible (no securityfs) but the kernel refuses
        Path state = dir.resolve("state-eperm");
        try (Swtpm swtpm = ChainFixtures.firmwareState(BANKS, fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            KexecException e;
            try (Tpm tpm = swtpm.open()) {
                e = assertThrows(KexecException.class, () -> MeasuredBoot.run(request(state), tpm, Decider.builtin(Set.of()), loader(k)));
            }
            assertEquals(KexecErrors.EPERM, e.errno());
            assertTrue(e.getMessage().contains("kexec_load: EPERM"), e.getMessage());
            assertEquals(List.of("kexec_load"), k.calls);
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "no PCR changed");
            assertFalse(Files.exists(state.resolve("journal.jsonl")), "no journal");
        }
    }

    // ------------------------------------------------------------ objdump as the oracle

    private static String objdump(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("objdump"));
        cmd.addAll(List.of(args));
        cmd.add(RealParts.MEMTEST.toString());
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            throw new AssertionError("objdump is missing: install the Debian package binutils", e);
        }
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static long objdumpImageBase() throws Exception {
        for (String l : objdump("-p").split("\n")) {
            if (l.startsWith("ImageBase")) return Long.parseUnsignedLong(l.trim().split("\\s+")[1], 16);
        }
        throw new AssertionError("objdump -p shows no ImageBase");
    }

    /** The disassembled instruction that ends at {@code va} (objdump -d of the whole image). */
    private static String instructionBefore(long va) throws Exception {
        String last = null;
        for (String l : objdump("-d", "--no-show-raw-insn").split("\n")) {
            String t = l.trim();
            int colon = t.indexOf(':');
            if (colon <= 0) continue;
            long a;
            try {
                a = Long.parseUnsignedLong(t.substring(0, colon), 16);
            } catch (NumberFormatException e) {
                continue;
            }
            if (a == va) return last == null ? "(none)" : last;
            last = t;
        }
        throw new AssertionError("objdump shows no instruction at 0x" + Long.toHexString(va));
    }
}
