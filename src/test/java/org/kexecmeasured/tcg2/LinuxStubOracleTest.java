package org.kexecmeasured.tcg2;

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
@Tag("slow")
class LinuxStubOracleTest {

    @TempDir
    Path dir;

    record Rec(Measurement m, ChainMeasurer.Origin origin) {
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

        List<Measurement> stub9 = recs.stream().filter(x -> x.origin() == ChainMeasurer.Origin.PAYLOAD && x.m().pcr() == 9)
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

        List<String> ebs = recs.stream().filter(x -> x.origin() == ChainMeasurer.Origin.FIRMWARE && x.m().pcr() == 5)
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
}
