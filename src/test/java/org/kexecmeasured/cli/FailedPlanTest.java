package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.systemd.SystemdVersions;
import org.kexecmeasured.systemd.UkiVariants;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.uefi.TestPayloads;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 13: "since a plan touches no TPM, nothing has been extended when it fails". Each failure mode the issue
 * names is run through {@code boot} (not {@code --no-load}'s shortcut: the whole command) against a swtpm brought
 * to a real firmware state, with a TPM opener that keeps every TPM the command opened so that the commands it sent
 * can be counted afterwards. Asserted per mode: exit 2 with the cause in one line; every command sent is a read
 * (TPM_CC codes of TPM 2.0 Part 2, table 12 — not our constants); tpm2_pcrread shows every PCR of every bank as it
 * was; the state directory holds no journal and no log.
 *
 * <ul>
 *   <li>systemd-stub 254 with no device handle ({@code assert(device)} in partition_open, then freeze()): the
 *       real 254 stub, loaded by a small loader from a memory buffer with no device path (UEFI then gives the
 *       image no DeviceHandle, as the run without {@code --esp} did before the synthesized ESP);</li>
 *   <li>a payload stuck in a poll loop that never moves the clock;</li>
 *   <li>a payload that never hands over: it ends boot services itself and leaves without entering any kernel
 *       (what the 262 stub looked like before the kernel-entry cut-over).</li>
 * </ul>
 */
class FailedPlanTest {

    static final int TPM_CC_GET_CAPABILITY = 0x17A;
    static final int TPM_CC_GET_RANDOM = 0x17B;
    static final int TPM_CC_PCR_READ = 0x17E;
    static final int TPM_CC_READ_CLOCK = 0x181;
    /** The only commands a failed plan may send: it reads the banks, the PCRs and the nonce. */
    static final Set<Integer> READS = Set.of(TPM_CC_GET_CAPABILITY, TPM_CC_GET_RANDOM, TPM_CC_PCR_READ, TPM_CC_READ_CLOCK);
    static final String ALL = "sha1:all+sha256:all+sha384:all";
    static final Path FW = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");

    @TempDir
    Path dir;

    record Failed(String err, SortedMap<Integer, Long> commands) {
    }

    /** {@code boot PAYLOAD --no-load} on a firmware-state swtpm; asserts that it failed having changed nothing. */
    Failed bootFails(Path payload, String... extra) throws Exception {
        Path state = dir.resolve("state");
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, FW)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            List<Tpm> opened = new ArrayList<>();
            List<String> args = new ArrayList<>(List.of("boot", payload.toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", FW.toString(), "--state-dir", state.toString(), "--no-load"));
            args.addAll(List.of(extra));
            ChainFixtures.Cli c = PolicyAcceptanceTest.counted(opened, args.toArray(String[]::new));
            String err = c.err().strip();
            assertEquals(2, c.rc(), "boot fails as bad input: " + c.out() + c.err());
            assertFalse(err.contains("\n"), "one line: " + err);
            assertTrue(err.contains("(nothing was extended)"), err);
            SortedMap<Integer, Long> sent = PolicyAcceptanceTest.commands(opened);
            assertTrue(sent.getOrDefault(TPM_CC_PCR_READ, 0L) > 0, "the plan read the PCRs: " + sent);
            assertTrue(READS.containsAll(sent.keySet()), "only reads were sent (TPM_CC → count): " + sent);
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "tpm2_pcrread: no PCR changed in any bank");
            try (Stream<Path> files = Files.exists(state) ? Files.walk(state) : Stream.empty()) {
                List<String> names = files.map(p -> p.getFileName().toString()).toList();
                assertFalse(names.contains("journal.jsonl"), "no journal: nothing was about to be extended " + names);
                assertFalse(names.contains("eventlog.bin"), "no log written " + names);
            }
            return new Failed(err, sent);
        }
    }

    @Test
    void systemdStub254WithoutADeviceHandleAssertsAndNothingIsExtended() throws Exception {
        SystemdVersions.Version v254 = SystemdVersions.suite("bookworm-backports");
        UkiVariants.Built uki = UkiVariants.build(v254, UkiVariants.Variant.PLAIN);
        Path loader = dir.resolve("load-from-memory.efi");
        Files.write(loader, TestPayloads.chainLoadFromMemory(Files.readAllBytes(uki.uki())));
        String err = bootFails(loader).err();
        assertTrue(err.contains("the payload stopped making progress"), "the halt is seen, not the budget's end: " + err);
        // systemd 254's part-discovery.c partition_open(): assert(device), reached with the image's NULL DeviceHandle
        assertTrue(err.contains("console: systemd-boot: Assertion 'device' failed at ../src/boot/efi/part-discovery.c"),
                "the stub's assertion is in the message: " + err);

        // the control: the same UKI started as firmware starts it (from a device: the synthesized ESP) plans fine
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, FW)) {
            ChainFixtures.cli(0, "boot", uki.uki().toString(), "--tpm", swtpm.tcti(), "--firmware-log", FW.toString(),
                    "--state-dir", dir.resolve("state-control").toString(), "--no-load");
        }
    }

    @Test
    void aPayloadStuckInAPollLoopExtendsNothing() throws Exception {
        Path stuck = dir.resolve("stuck.efi");
        Files.write(stuck, TestPayloads.printThenStall("waiting for a key\r\n", 0, 0));
        String err = bootFails(stuck).err();
        assertTrue(err.contains("the payload stopped making progress"), err);
        assertTrue(err.endsWith("console: waiting for a key (nothing was extended)"), "its last console line: " + err);
    }

    @Test
    void aPayloadThatNeverHandsOverExtendsNothing() throws Exception {
        Path ebs = dir.resolve("ebs.efi");
        Files.write(ebs, TestPayloads.exitBootServicesWithoutAKernel());
        String err = bootFails(ebs).err();
        assertTrue(err.contains("the payload did not start a Linux kernel"), err);
    }
}
