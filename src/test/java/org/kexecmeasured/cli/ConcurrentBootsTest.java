package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.testing.Swtpm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10 item 3 with real processes: two {@code boot --no-load} runs started at the same moment as
 * child JVMs, once against one TPM with two state directories, once with one state directory. Whatever
 * the interleaving, the runs never both extend: one finishes (exit 0) and the other is refused before
 * any extend — by the lock while the first holds it (exit 2, "in use"), or, when it starts after the
 * first finished, by the PCRs the first one changed (exit 3, divergent: its firmware log no longer
 * explains them). Oracles: tpm2_pcrread = the replay of the winner's log = tpm2_eventlog's replay, and
 * {@code eventlog verify --tpm} says ok for it.
 */
class ConcurrentBootsTest {

    @TempDir
    static Path dir;
    static Path uki;
    static Path fwFile;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
        fwFile = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
    }

    private static Process boot(String tcti, Path state, Path out) throws Exception {
        return ChildCli.start(Main.class.getName(), Map.of("KEXEC_MEASURED_LOCK_DIR", dir.resolve("locks").toString()), out,
                List.of("boot", uki.resolve("demo.efi").toString(), "--tpm", tcti, "--firmware-log", fwFile.toString(),
                        "--state-dir", state.toString(), "--no-load"));
    }

    private void twoAtOnce(String name, boolean oneStateDir) throws Exception {
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            Path[] states = {dir.resolve(name + "-a"), dir.resolve(oneStateDir ? name + "-a" : name + "-b")};
            Path[] outs = {dir.resolve(name + "-a.out"), dir.resolve(name + "-b.out")};
            Process a = boot(swtpm.tcti(), states[0], outs[0]);
            Process b = boot(swtpm.tcti(), states[1], outs[1]);
            Process[] p = {a, b};
            int winners = 0;
            Path winnerLog = null;
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                assertTrue(p[i].waitFor(10, TimeUnit.MINUTES), "run " + i + " ended");
                int rc = p[i].exitValue();
                String text = Files.readString(outs[i]);
                seen.add(rc + ": " + text.lines().filter(l -> l.startsWith("kexec-measured:")).findFirst().orElse("ok"));
                if (rc == 0) {
                    winners++;
                    // one state dir: the winner's log was archived by the next run or stays in place
                    winnerLog = states[i].resolve("eventlog.bin");
                } else if (rc == Main.EXIT_BAD_INPUT) {
                    assertTrue(text.contains("is in use"), name + " run " + i + ": " + text);
                } else {
                    assertEquals(Main.EXIT_POLICY_DENIED, rc, name + " run " + i + ": " + text);
                    assertTrue(text.contains("does not explain"), name + " run " + i + ": " + text);
                }
            }
            System.out.println("ConcurrentBootsTest " + name + ": " + seen);
            assertEquals(1, winners, name + ": exactly one run extends: " + seen);
            MeasuredBootTest.assertLogIsTheTpm(swtpm, winnerLog, name);
        }
    }

    @Test
    void twoBootsOnOneTpmNeverBothExtend() throws Exception {
        twoAtOnce("one-tpm", false);
    }

    @Test
    void twoBootsOnOneStateDirectoryNeverBothExtend() throws Exception {
        twoAtOnce("one-state", true);
    }
}
