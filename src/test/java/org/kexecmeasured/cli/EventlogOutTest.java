package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code boot --eventlog-out} may not name a file of the state directory (review: {@code STATE/journal.jsonl}
 * was overwritten by the log), a symbolic link, a device, or the firmware log being continued: exit 2 before the
 * plan, the state directory's files byte for byte as they were, no PCR changed (tpm2_pcrread before and after).
 */
class EventlogOutTest {

    @Test
    void anOutputThatIsNotAFileOfItsOwnIsRefusedBeforeAnything(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki"));
        Path fw = Files.copy(Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin"), dir.resolve("firmware.bin"));
        Path state = dir.resolve("state");
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fw)) {
            List<String> base = List.of("boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", fw.toString(), "--state-dir", state.toString(), "--no-load", "--tolerate-divergent", "4,5,7,9,11,12,13,14");
            ChainFixtures.Cli first = ChainFixtures.cli(Services.DEFAULT, base.toArray(String[]::new));
            assertEquals(0, first.rc(), first.err());
            Path journal = state.resolve("journal.jsonl");
            Map<String, String> stateBefore = tree(state);
            byte[] fwBytes = Files.readAllBytes(fw);
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);

            Path link = Files.createSymbolicLink(dir.resolve("log-link.bin"), dir.resolve("elsewhere.bin"));
            Path stateLink = Files.createSymbolicLink(dir.resolve("state-link"), state);
            Map<String, String> cases = new java.util.LinkedHashMap<>();
            cases.put(journal.toString(), "inside the state directory");
            cases.put(state.resolve("eventlog.cel.json").toString(), "inside the state directory");
            cases.put(stateLink.resolve("journal.jsonl").toString(), "inside the state directory");
            cases.put(state.resolve("sub/../journal.jsonl").toString(), "inside the state directory");
            cases.put(link.toString(), "a symbolic link");
            cases.put("/dev/null", "not a regular file");
            cases.put(fw.toString(), "the firmware log");
            for (Map.Entry<String, String> c : cases.entrySet()) {
                List<String> a = new ArrayList<>(base);
                a.addAll(List.of("--eventlog-out", c.getKey()));
                ChainFixtures.Cli r = ChainFixtures.cli(Services.DEFAULT, a.toArray(String[]::new));
                assertEquals(2, r.rc(), c.getKey() + ": " + r.out() + r.err());
                assertTrue(r.err().contains("--eventlog-out") && r.err().contains(c.getValue()), c.getKey() + ": " + r.err());
            }
            assertEquals(stateBefore, tree(state), "the state directory untouched");
            assertArrayEquals(fwBytes, Files.readAllBytes(fw), "the firmware log untouched");
            assertTrue(Files.notExists(dir.resolve("elsewhere.bin")), "nothing written through the link");
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "nothing extended");
        }
    }

    /** Every file under {@code root}: relative path → SHA-256 of its bytes. */
    private static Map<String, String> tree(Path root) throws Exception {
        Map<String, String> m = new java.util.TreeMap<>();
        try (var s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                m.put(root.relativize(p).toString(), org.kexecmeasured.util.Hex.of(
                        org.kexecmeasured.util.HashAlg.SHA256.digest(Files.readAllBytes(p))));
            }
        }
        return m;
    }
}
