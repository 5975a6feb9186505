package org.kexecmeasured.boot;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.uefi.EmulationResult;
import org.kexecmeasured.uefi.Emulator;
import org.kexecmeasured.uefi.EmulatorOptions;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real Linux EFI stub (Debian's kernel, full emulation to ExitBootServices) is the oracle for the
 * PCR 9 events {@code boot} makes natively at the cut-over, and it exercises the emulated firmware's
 * ExitBootServices measurements (Failure only before a retry; then Invocation, Success).
 */
@Tag("full-emulation")
class LinuxStubOracleTest {

    @TempDir
    Path dir;

    record Rec(Measurement m, Origin origin) {
    }

    @Test
    void nativePcr9EventsEqualTheRealStubsAndEbsIsMeasured() throws Exception {
        Process p = new ProcessBuilder("sh", Path.of("tests/bin/make-uki").toAbsolutePath().toString(),
                dir.resolve("uki").toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "make-uki: " + log);
        byte[] kernel = Files.readAllBytes(dir.resolve("uki/vmlinuz"));
        byte[] initrd = Files.readAllBytes(dir.resolve("uki/initrd.cpio"));
        String cmdline = "console=ttyS0 root=/dev/vda ro";

        List<Rec> recs = new ArrayList<>();
        Hashing hashing = new Hashing(List.of(HashAlg.SHA1, HashAlg.SHA256));
        ChainMeasurer measurer = new ChainMeasurer(hashing, (m, o) -> recs.add(new Rec(m, o)));
        EmulationResult r = Emulator.run(kernel, EmulatorOptions.builder().fullEmulation(true).initrd(initrd)
                .append(cmdline).payloadName("vmlinuz").timeBudgetMillis(300_000).measurer(measurer).build());
        assertNotNull(r.postEbs(), "the stub reached the jump after ExitBootServices");

        List<Measurement> stub9 = recs.stream().filter(x -> x.origin() == Origin.PAYLOAD && x.m().pcr() == 9)
                .map(Rec::m).toList();
        HandOff h = new HandOff(kernel, cmdline, initrd, "", "", List.of());
        List<Measurement> ours = ChainMeasurer.linuxStubMeasurements(h, hashing);
        assertEquals(stub9.size(), ours.size(), "events: stub " + stub9 + " vs ours " + ours);
        assertTrue(!ours.isEmpty());
        for (int i = 0; i < ours.size(); i++) {
            Measurement a = stub9.get(i);
            Measurement b = ours.get(i);
            assertEquals(a.eventType(), b.eventType());
            assertArrayEquals(a.eventData(), b.eventData(), "event " + i + " data: " + Hex.of(a.eventData()));
            for (HashAlg alg : List.of(HashAlg.SHA1, HashAlg.SHA256)) {
                assertArrayEquals(a.digests().get(alg), b.digests().get(alg), "event " + i + " " + alg);
            }
        }

        List<String> ebs = recs.stream().filter(x -> x.origin() == Origin.FIRMWARE && x.m().pcr() == 5)
                .map(x -> new String(x.m().eventData(), StandardCharsets.US_ASCII)).toList();
        assertTrue(ebs.size() >= 2, ebs.toString());
        assertEquals(List.of(ChainMeasurer.EBS_INVOCATION, ChainMeasurer.EBS_SUCCESS), ebs.subList(ebs.size() - 2, ebs.size()));
        assertTrue(ebs.subList(0, ebs.size() - 2).stream().allMatch(ChainMeasurer.EBS_FAILURE::equals), ebs.toString());
        // PCR 4: the action once, then the kernel image itself
        List<Rec> pcr4 = recs.stream().filter(x -> x.m().pcr() == 4).toList();
        assertEquals(2, pcr4.size());
        assertEquals(ChainMeasurer.CALLING_EFI_APPLICATION, new String(pcr4.get(0).m().eventData(), StandardCharsets.US_ASCII));
        assertEquals(ChainMeasurer.EV_EFI_BOOT_SERVICES_APPLICATION, pcr4.get(1).m().eventType());
    }

    /**
     * GetEventLog returns the synthesized log in guest memory: the real stub copies it into its
     * LINUX_EFI_TPM_EVENT_LOG table {u32 size, u32 final_events_preboot_size, u8 version 2, log}, and
     * the copy equals a prefix of the log the planner planned (firmware + boundary + the run so far).
     */
    @Test
    void theStubCopiesTheSynthesizedLogFromGetEventLog() throws Exception {
        Process p = new ProcessBuilder("sh", Path.of("tests/bin/make-uki").toAbsolutePath().toString(),
                dir.resolve("uki").toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "make-uki: " + out);
        byte[] kernel = Files.readAllBytes(dir.resolve("uki/vmlinuz"));
        byte[] initrd = Files.readAllBytes(dir.resolve("uki/initrd.cpio"));
        org.kexecmeasured.eventlog.EventLog fw = org.kexecmeasured.eventlog.EventLog.parse(
                org.kexecmeasured.eventlog.Fixtures.read("ovmf-sdboot-fedora37.bin"));
        java.util.Map<Integer, byte[]> zero = new java.util.TreeMap<>();
        for (int i = 0; i < 24; i++) zero.put(i, new byte[32]);
        Planner planner = new Planner(BootPolicy.BUILTIN_DEFAULT, List.of(HashAlg.SHA256), fw,
                new org.kexecmeasured.eventlog.PcrSet(java.util.Map.of(HashAlg.SHA256, zero)));
        Hashing hashing = new Hashing(List.of(HashAlg.SHA256));
        ChainMeasurer measurer = new ChainMeasurer(hashing, planner);
        BoundaryEvent b = new BoundaryEvent("test", java.time.Instant.now(), new byte[16], new byte[32], "test",
                BootPolicy.BUILTIN_DEFAULT.boundarySet());
        for (Measurement m : b.measurements(hashing.banks())) planner.accept(m, Origin.BOUNDARY);
        EmulationResult r = Emulator.run(kernel, EmulatorOptions.builder().fullEmulation(true).initrd(initrd)
                .append("console=ttyS0").payloadName("vmlinuz").timeBudgetMillis(300_000).measurer(measurer).build());
        assertNotNull(r.postEbs());
        byte[] log = planner.log().toBytes();
        byte[] head = java.util.Arrays.copyOf(log, 64);
        boolean found = false;
        for (org.kexecmeasured.uefi.PostEbsState.Segment g : r.postEbs().segments()) {
            byte[] d = g.data();
            for (int i = 9; i + 64 <= d.length && !found; i++) {
                if (d[i] != head[0] || !java.util.Arrays.equals(d, i, i + 64, head, 0, 64)) continue;
                java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(d, i - 9, 9).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                int size = bb.getInt();
                bb.getInt();
                if (bb.get() != 2 || size <= fw.toBytes().length || size > log.length) continue;
                assertArrayEquals(java.util.Arrays.copyOf(log, size), java.util.Arrays.copyOfRange(d, i, i + size));
                found = true;
            }
        }
        assertTrue(found, "no LINUX_EFI_TPM_EVENT_LOG copy of the synthesized log in guest memory");
    }
}
