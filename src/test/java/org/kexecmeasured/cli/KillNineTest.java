package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Acceptance of issue 10: {@code boot --no-load} runs as a child process (a JVM of its own on the
 * built classes, as the launcher starts it) against a real swtpm reached through a {@link SlowTpmProxy}
 * (every command held 25 ms, so the commit lasts long enough to be hit), and is SIGKILLed at 20 random
 * points: half uniform over a whole run, half uniform over the commit (after the journal appeared).
 * Then {@code eventlog recover --complete} settles whatever was left, and the log it rebuilt (or the
 * boot's own log, when the run finished first, or the firmware log, when it died before the commit)
 * replays to the TPM every time: tpm2_pcrread = our replay = tpm2_eventlog's replay, and {@code
 * eventlog verify --tpm} says ok. The seed is printed so a failing point can be replayed.
 */
class KillNineTest {

    static final int RUNS = 20;
    static final long PROXY_DELAY_MS = 25;
    static final int HAND_OVER_RUNS = 10;

    @TempDir
    static Path dir;
    static Path uki;
    static Path fwFile;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
        fwFile = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
    }

    /** What one run left behind when it was killed. */
    enum Left { NOTHING, UNSTARTED_JOURNAL, OPEN_JOURNAL, FINISHED_JOURNAL, ARCHIVED }

    private static Process startBoot(String tcti, Path state, Path outFile) throws Exception {
        return startBoot(tcti, state, outFile, false);
    }

    /**
     * {@code handOver}: without {@code --no-load}, through {@link NotRootKexecMain}: the kexec seam of a
     * process that is not root (kexec_file_load refused with EPERM, no CAP_SYS_BOOT), so nothing is ever loaded.
     */
    private static Process startBoot(String tcti, Path state, Path outFile, boolean handOver) throws Exception {
        List<String> args = new ArrayList<>(List.of("boot", uki.resolve("demo.efi").toString(), "--tpm", tcti,
                "--firmware-log", fwFile.toString(), "--state-dir", state.toString()));
        if (!handOver) args.add("--no-load");
        return ChildCli.start(handOver ? NotRootKexecMain.class.getName() : Main.class.getName(),
                Map.of("KEXEC_MEASURED_LOCK_DIR", dir.resolve("locks").toString()), outFile, args);
    }

    /** The log that must replay to the TPM now, after recovery settled what the run left. */
    private static Path settle(Swtpm swtpm, Path state, Left left) throws Exception {
        Path journal = state.resolve(Journal.FILE_NAME);
        switch (left) {
            case NOTHING:
                return fwFile;
            case ARCHIVED:
                return state.resolve("eventlog.bin");
            default:
                ChainFixtures.Cli r = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(),
                        "--tpm", swtpm.tcti(), "--complete");
                if (left == Left.UNSTARTED_JOURNAL) {
                    assertTrue(r.out().contains("was never started"), r.out());
                    return fwFile;
                }
                assertTrue(Journal.read(journal).finished(), "recovery finished the journal");
                return state.resolve("eventlog.bin");
        }
    }

    private static Left leftBehind(Path state) throws Exception {
        Path journal = state.resolve(Journal.FILE_NAME);
        if (Files.exists(journal)) {
            try {
                return Journal.read(journal).finished() ? Left.FINISHED_JOURNAL : Left.OPEN_JOURNAL;
            } catch (Journal.UnstartedException e) {
                return Left.UNSTARTED_JOURNAL;
            }
        }
        return Files.isDirectory(state.resolve("generations")) ? Left.ARCHIVED : Left.NOTHING;
    }

    @Test
    void killedAtTwentyRandomPointsTheRecoveredLogAlwaysVerifies() throws Exception {
        long seed = Long.getLong("killnine.seed", System.nanoTime());
        System.out.println("KillNineTest seed " + seed + " (-Dkillnine.seed=" + seed + " replays it)");
        Random rnd = new Random(seed);

        // calibration: one whole run through the proxy, timing the run and its commit (journal → exit)
        long wholeMillis;
        long commitMillis;
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile);
                SlowTpmProxy proxy = new SlowTpmProxy(swtpm.port(), PROXY_DELAY_MS)) {
            Path state = dir.resolve("calibration");
            long t0 = System.nanoTime();
            Process p = startBoot(proxy.tcti(), state, dir.resolve("calibration.out"));
            long journalAt = 0;
            while (p.isAlive()) {
                if (journalAt == 0 && Files.exists(state.resolve(Journal.FILE_NAME))) journalAt = System.nanoTime();
                TimeUnit.MILLISECONDS.sleep(2);
            }
            long end = System.nanoTime();
            assertEquals(0, p.exitValue(), Files.readString(dir.resolve("calibration.out")));
            assertTrue(journalAt > 0, "the journal was seen");
            wholeMillis = (end - t0) / 1_000_000;
            commitMillis = Math.max(1, (end - journalAt) / 1_000_000);
            MeasuredBootTest.assertTpmEqualsReplays(swtpm, state.resolve("eventlog.bin"),
                    EventLog.parse(Files.readAllBytes(state.resolve("eventlog.bin"))), List.of("sha256"));
        }
        System.out.printf("KillNineTest: a whole run %d ms, its commit and outputs %d ms%n", wholeMillis, commitMillis);

        int[] tally = new int[Left.values().length];
        List<String> points = new ArrayList<>();
        for (int i = 0; i < RUNS; i++) {
            try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile);
                    SlowTpmProxy proxy = new SlowTpmProxy(swtpm.port(), PROXY_DELAY_MS)) {
                Path state = dir.resolve("run-" + i);
                Path out = dir.resolve("run-" + i + ".out");
                boolean inCommit = i % 2 == 1;
                long delay = inCommit ? (long) (rnd.nextDouble() * commitMillis) : (long) (rnd.nextDouble() * wholeMillis);
                Process p = startBoot(proxy.tcti(), state, out);
                if (inCommit) {
                    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(10 * wholeMillis + 60_000);
                    while (p.isAlive() && !Files.exists(state.resolve(Journal.FILE_NAME)) && System.nanoTime() < deadline) {
                        TimeUnit.MILLISECONDS.sleep(1);
                    }
                }
                TimeUnit.MILLISECONDS.sleep(delay);
                p.destroyForcibly(); // SIGKILL
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child died");
                int rc = p.exitValue();
                assertTrue(rc == 137 || rc == 0, "run " + i + " exited " + rc + ": " + Files.readString(out));
                Left left = leftBehind(state);
                tally[left.ordinal()]++;
                points.add(String.format("%s+%dms→%s", inCommit ? "journal" : "start", delay, left));

                Path log = settle(swtpm, state, left);
                // every PCR: tpm2_pcrread = our replay; tpm2_eventlog's replay for each PCR the log has (a run
                // killed early in its commit has records for some boundary PCRs only)
                MeasuredBootTest.assertLogIsTheTpm(swtpm, log, List.of(0, 4, 5, 7), "run " + i + " (" + points.get(i) + ")");
            }
        }
        System.out.println("KillNineTest kill points: " + points);
        // the test proves what it claims only if kills landed inside commits
        assertTrue(tally[Left.OPEN_JOURNAL.ordinal()] >= RUNS / 4,
                "too few kills inside a commit (" + tally[Left.OPEN_JOURNAL.ordinal()] + "): " + points);
    }

    /**
     * The hand-over path (boot without --no-load) where the kernel refuses the load (not root: EPERM):
     * refused with exit 2 before any extend, wherever it is killed. A whole run first (its exit code and
     * message, the TPM unchanged), then {@value #HAND_OVER_RUNS} kills at random points over such a run.
     * Oracles: tpm2_pcrread of every PCR of every bank before = after (nothing extended), and the firmware
     * log alone verifies against the TPM ({@code eventlog verify --tpm}, tpm2_eventlog's replay).
     */
    @Test
    void theHandOverRefusedByTheKernelExtendsNothingWhereverItIsKilled() throws Exception {
        long seed = Long.getLong("killnine.seed", System.nanoTime());
        System.out.println("KillNineTest hand-over seed " + seed + " (-Dkillnine.seed=" + seed + " replays it)");
        Random rnd = new Random(seed);
        long wholeMillis;
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
            Path state = dir.resolve("handover-whole");
            Path out = dir.resolve("handover-whole.out");
            long t0 = System.nanoTime();
            Process p = startBoot(swtpm.tcti(), state, out, true);
            assertTrue(p.waitFor(10, TimeUnit.MINUTES), "the run ended");
            wholeMillis = (System.nanoTime() - t0) / 1_000_000;
            String text = Files.readString(out);
            assertEquals(2, p.exitValue(), text);
            assertTrue(text.contains("CAP_SYS_BOOT") && text.contains("nothing was"), text);
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "the refused hand-over extended nothing");
            assertTrue(Files.notExists(state.resolve(Journal.FILE_NAME)), "no journal: the commit never began");
        }
        List<String> points = new ArrayList<>();
        for (int i = 0; i < HAND_OVER_RUNS; i++) {
            try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
                Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), ALL);
                Path state = dir.resolve("handover-" + i);
                Path out = dir.resolve("handover-" + i + ".out");
                long delay = (long) (rnd.nextDouble() * wholeMillis);
                Process p = startBoot(swtpm.tcti(), state, out, true);
                TimeUnit.MILLISECONDS.sleep(delay);
                p.destroyForcibly(); // SIGKILL
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child died");
                int rc = p.exitValue();
                assertTrue(rc == 137 || rc == 2, "run " + i + " exited " + rc + ": " + Files.readString(out));
                Left left = leftBehind(state);
                points.add(String.format("start+%dms→%s/%d", delay, left, rc));
                assertTrue(left == Left.NOTHING || left == Left.UNSTARTED_JOURNAL, "run " + i + ": " + points.get(i));
                assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), ALL), "run " + i + " (" + points.get(i) + ") extended");
                Path log = settle(swtpm, state, left);
                MeasuredBootTest.assertLogIsTheTpm(swtpm, log, List.of(0, 4, 5, 7), "run " + i + " (" + points.get(i) + ")");
            }
        }
        System.out.println("KillNineTest hand-over kill points (a whole run " + wholeMillis + " ms): " + points);
    }

    static final String ALL = "sha256:all";

}
