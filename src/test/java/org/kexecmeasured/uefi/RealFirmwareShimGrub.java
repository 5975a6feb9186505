package org.kexecmeasured.uefi;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The same make-disk image (removable path \EFI\BOOT\BOOTX64.EFI = shim, an initrd whose /init prints the PCRs)
 * booted twice: by the emulator, and by real firmware — OVMF with a swtpm under QEMU (TCG), the disk on
 * virtio-blk at PCI 0:3.0 as in the emulator, and no other boot device (-nodefaults: q35's default DVD drive would
 * be a first, failed boot attempt, which EDK2 records in PCR 4 as "Returning from" + "Calling EFI Application from
 * Boot Option" before shim). The guest kernel prints its TPM's PCRs on the second serial port.
 * The PCR 4, 8, 9 and 14 values of the real boot must equal the replay of the events the emulator recorded:
 * PCR 4 = EDK2's "Calling EFI Application from Boot Option" and separator, then shim (the firmware's image event)
 * and GRUB (shim's PE_COFF_IMAGE measurement), each as its Authenticode digest; PCR 8 = GRUB's commands; PCR 9 =
 * GRUB's files (and nothing of the kernel's EFI stub, which GRUB's linux loader never runs); PCR 14 = shim's
 * MokList events. Every one of those events' digests takes part, in order.
 *
 * <p>Run twice: Secure Boot off ({@link RealFirmwareShimGrubTest}: OVMF without keys; GRUB's legacy loader, the
 * boot protocol after its own ExitBootServices) and on ({@link RealFirmwareShimGrubSecureBootTest}: OVMF's
 * Secure Boot build with Microsoft's keys enrolled, SMM on; shim verifies GRUB, GRUB has shim verify the kernel and
 * enters its EFI handover entry, so the kernel's EFI stub runs on real firmware — PCR 9 then shows whether that stub
 * measures anything in this mode).
 *
 * <p>Why PCR values and not the guest's event log: a kernel entered through the boot protocol (GRUB 2.06 with
 * Secure Boot off) gets no firmware log — the EFI stub, which copies it into the LINUX_EFI_TPM_EVENT_LOG table,
 * never runs — so {@code binary_bios_measurements} does not exist in the guest; the PCRs are what the TPM says.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class RealFirmwareShimGrub {

    static final Path OVMF_CODE = Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd");
    static final Path OVMF_VARS = Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd");
    /** OVMF built with Secure Boot and SMM (Debian's ovmf), and variables with Microsoft's keys enrolled, SB on. */
    static final Path OVMF_CODE_SECBOOT = Path.of("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
    static final Path OVMF_VARS_MS = Path.of("/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
    static final Path BUSYBOX = Path.of("/bin/busybox");
    static final String BOOT_PATH = "\\EFI\\BOOT\\BOOTX64.EFI";

    /** This class's scratch directory (made in {@link #bootBoth}: @TempDir instance fields come too late for it). */
    Path dir;
    EmulationResult run;
    RecordingMeasurer measurer = new RecordingMeasurer();
    byte[] shim;
    /** bank → PCR → value read in the guest booted by OVMF. */
    Map<String, Map<Integer, String>> real;

    /** Secure Boot on in both runs (the emulator's SecureBoot variable; OVMF's enrolled keys). */
    abstract boolean secureBoot();

    /** How GRUB enters the kernel in this mode. */
    abstract HandOff.Entry expectedEntry();

    @AfterAll
    void removeScratch() throws Exception {
        if (dir == null) return;
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    @BeforeAll
    void bootBoth() throws Exception {
        dir = Files.createTempDirectory("real-firmware-shim-grub-");
        RealParts.require(secureBoot() ? OVMF_CODE_SECBOOT : OVMF_CODE, "ovmf");
        RealParts.require(secureBoot() ? OVMF_VARS_MS : OVMF_VARS, "ovmf");
        RealParts.require(BUSYBOX, "busybox-static");
        Path root = dir.resolve("initrd");
        Files.createDirectories(root.resolve("bin"));
        Files.copy(BUSYBOX, root.resolve("bin/busybox"));
        Files.writeString(root.resolve("init"), """
                #!/bin/busybox sh
                /bin/busybox mkdir -p /proc /sys /dev
                /bin/busybox mount -t devtmpfs dev /dev
                /bin/busybox mount -t sysfs sys /sys
                { echo BEGIN-PCRS
                  for b in sha1 sha256; do for p in 4 7 8 9 14; do
                    echo "$b $p $(/bin/busybox cat /sys/class/tpm/tpm0/pcr-$b/$p)"; done; done
                  echo END-PCRS; } > /dev/ttyS1
                /bin/busybox poweroff -f
                """);
        root.resolve("init").toFile().setExecutable(true);
        Path disk = RealParts.makeDisk(dir.resolve("d"), Map.of("INITRD_ROOT", root.toString(), "REMOVABLE", "1"));
        shim = RealParts.runBytes(List.of("mtype", "-i", disk + "@@1M", "::EFI/BOOT/BOOTX64.EFI"), "mtools");

        run = Emulator.run(shim, EmulatorOptions.builder().disk(disk).bootPath(BOOT_PATH).payloadName("BOOTX64.EFI")
                .secureBoot(secureBoot()).measurer(measurer).timeBudgetMillis(240_000).build());
        real = bootOvmf(disk);
    }

    /** swtpm_setup, swtpm on a unix socket, QEMU q35 + OVMF (TCG); returns the PCRs the guest printed. */
    Map<String, Map<Integer, String>> bootOvmf(Path disk) throws Exception {
        Path tpm = dir.resolve("tpm");
        Files.createDirectories(tpm);
        RealParts.run(List.of("swtpm_setup", "--tpm2", "--tpmstate", tpm.toString(), "--pcr-banks", "sha1,sha256",
                "--overwrite"), "swtpm-tools");
        Path vars = dir.resolve("vars.fd");
        Files.copy(secureBoot() ? OVMF_VARS_MS : OVMF_VARS, vars);
        Path sock = tpm.resolve("sock");
        Process swtpm = new ProcessBuilder("swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + tpm,
                "--ctrl", "type=unixio,path=" + sock, "--terminate")
                .redirectErrorStream(true).redirectOutput(dir.resolve("swtpm.log").toFile()).start();
        Process qemu = null;
        try {
            for (int i = 0; i < 100 && !Files.exists(sock); i++) Thread.sleep(50);
            assertTrue(Files.exists(sock), "swtpm did not create its socket");
            Path s0 = dir.resolve("serial0.txt");
            Path s1 = dir.resolve("serial1.txt");
            List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64", "-accel", "tcg", "-m", "768", "-smp", "1",
                    "-display", "none", "-nic", "none", "-nodefaults", "-serial", "file:" + s0, "-serial", "file:" + s1,
                    "-no-reboot"));
            // the Secure Boot build keeps its variables behind SMM: q35 with SMM and a secure flash
            cmd.addAll(secureBoot() ? List.of("-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on")
                    : List.of("-machine", "q35"));
            cmd.addAll(List.of(
                    "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + (secureBoot() ? OVMF_CODE_SECBOOT : OVMF_CODE),
                    "-drive", "if=pflash,format=raw,unit=1,file=" + vars,
                    "-drive", "if=none,id=disk0,format=raw,snapshot=on,file=" + disk,
                    "-device", "virtio-blk-pci,drive=disk0,addr=0x" + Integer.toHexString(Platform.DISK_PCI_DEVICE),
                    "-chardev", "socket,id=chrtpm,path=" + sock, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                    "-device", "tpm-tis,tpmdev=tpm0"));
            qemu = new ProcessBuilder(cmd)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
            if (!qemu.waitFor(600, TimeUnit.SECONDS)) {
                fail("the OVMF boot did not power off within 600 s; console: " + tail(s0));
            }
            String out = Files.exists(s1) ? Files.readString(s1, StandardCharsets.ISO_8859_1) : "";
            int b = out.indexOf("BEGIN-PCRS");
            int e = out.indexOf("END-PCRS");
            if (b < 0 || e < b) {
                fail("the guest printed no PCRs (qemu exit " + qemu.exitValue() + "); console: " + tail(s0));
            }
            Map<String, Map<Integer, String>> pcrs = new HashMap<>();
            for (String line : out.substring(b, e).split("\n")) {
                String[] f = line.trim().split(" ");
                if (f.length == 3) {
                    pcrs.computeIfAbsent(f[0], k -> new HashMap<>()).put(Integer.parseInt(f[1]), f[2].toLowerCase());
                }
            }
            return pcrs;
        } finally {
            if (qemu != null) qemu.destroyForcibly().waitFor();
            swtpm.destroyForcibly().waitFor();
        }
    }

    static String tail(Path p) throws Exception {
        if (!Files.exists(p)) return "(none)";
        String s = Files.readString(p, StandardCharsets.ISO_8859_1);
        return s.substring(Math.max(0, s.length() - 1500));
    }

    private List<RecordingMeasurer.Measurement> events(int pcr) {
        return measurer.measurements().stream().filter(m -> m.pcr() == pcr).toList();
    }

    /** The sha256 bank's value after extending {@code digests} into a zero PCR. */
    private static String replay(List<byte[]> digests) {
        byte[] v = new byte[32];
        for (byte[] d : digests) v = HashAlg.SHA256.extend(v, d);
        return Hex.of(v);
    }

    private void assertReplays(int pcr, List<byte[]> digests, List<String> what) {
        assertNotNull(real.get("sha256"), "no sha256 PCRs from the guest: " + real);
        assertEquals(real.get("sha256").get(pcr), replay(digests), "PCR " + pcr + ": the real firmware boot vs the"
                + " replay of the emulator's events " + what);
    }

    private static String text(RecordingMeasurer.Measurement m) {
        return new String(m.eventData(), StandardCharsets.UTF_8).replace("\0", "");
    }

    @Test
    void theEmulatorReachesTheHandOffOfTheSameDisk() {
        assertNotNull(run.handOff());
        assertEquals(expectedEntry(), run.handOff().entry());
    }

    @Test
    void pcr4ShimAndGrubAsRealFirmwareMeasuresThem() {
        List<RecordingMeasurer.ImageLoad> loads = measurer.imageLoads();
        assertEquals(1, loads.size(), "the emulated firmware loads shim only; shim loads GRUB itself");
        List<byte[]> d = new ArrayList<>();
        d.add(HashAlg.SHA256.digest("Calling EFI Application from Boot Option".getBytes(StandardCharsets.US_ASCII)));
        d.add(HashAlg.SHA256.digest(new byte[4])); // EDK2's EV_SEPARATOR at ReadyToBoot
        d.add(Authenticode.digest(PeFile.parse(shim), HashAlg.SHA256));
        List<String> what = new ArrayList<>(List.of("action", "separator", "shim"));
        List<RecordingMeasurer.Measurement> byShim = events(4);
        assertEquals(0x10, byShim.get(0).flags() & 0x10, "shim measures GRUB as PE_COFF_IMAGE");
        for (RecordingMeasurer.Measurement m : byShim) {
            // PE_COFF_IMAGE: the Authenticode digest (EDK2's Tcg2Dxe); else the data's own digest
            d.add((m.flags() & 0x10) != 0 ? Authenticode.digest(PeFile.parse(m.dataToHash()), HashAlg.SHA256) : m.dataSha256());
            what.add("image of " + m.dataLength() + " bytes");
        }
        assertReplays(4, d, what);
    }

    @Test
    void pcr8GrubsCommands() {
        assertTrue(events(8).size() > 3);
        assertReplays(8, events(8).stream().map(RecordingMeasurer.Measurement::dataSha256).toList(),
                events(8).stream().map(RealFirmwareShimGrub::text).toList());
    }

    @Test
    void pcr9GrubsFilesAndNothingOfTheKernelsStub() {
        assertEquals(4, events(9).size(), "two grub.cfg, the kernel, the initrd: " + events(9).stream().map(RealFirmwareShimGrub::text).toList());
        assertReplays(9, events(9).stream().map(RecordingMeasurer.Measurement::dataSha256).toList(),
                events(9).stream().map(RealFirmwareShimGrub::text).toList());
    }

    @Test
    void pcr14ShimsMokLists() {
        assertEquals(3, events(14).size());
        assertReplays(14, events(14).stream().map(RecordingMeasurer.Measurement::dataSha256).toList(),
                events(14).stream().map(RealFirmwareShimGrub::text).toList());
    }
}
