package org.kexecmeasured.cli;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.Locks;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmFactory;
import org.kexecmeasured.tpm.TpmOpener;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10 items 2, 3, 6 and 10 against a real swtpm brought to the state of a real firmware log: the
 * log is never lost (the journal and the firmware log's copy rebuild it), outputs are checked before
 * the first extend (a read-only and a full file system, made by the test with tmpfs mounts), a damaged
 * journal is named and never replayed, locks refuse a second writer, extends by anyone else during the
 * commit are reported, a finished boot does not block the next one. Oracles: tpm2_pcrread and
 * tpm2_eventlog ({@link MeasuredBootTest#assertTpmEqualsReplays}).
 */
class BootRobustTest {

    @TempDir
    static Path dir;
    static Path uki;
    static Path fwFile;
    static final List<Path> MOUNTS = new ArrayList<>();
    /** 6 boundary extends, PCR 4 action, PCR 4 UKI image; #9 is the first extend of the stub's own events. */
    static final int K = 9;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
        fwFile = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
    }

    @AfterAll
    static void unmount() throws Exception {
        for (Path m : MOUNTS) ChainFixtures.run("umount", m.toString());
    }

    static ChainFixtures.Cli boot(Swtpm swtpm, Path state, TpmOpener opener, String... more) {
        List<String> a = new ArrayList<>(List.of("boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(),
                "--firmware-log", fwFile.toString(), "--state-dir", state.toString(), "--no-load"));
        a.addAll(List.of(more));
        return ChainFixtures.cli(Services.DEFAULT.withTpm(opener), a.toArray(String[]::new));
    }

    static Map<Integer, String> pcrs(Swtpm swtpm) {
        return Tpm2Tools.pcrread(swtpm.tcti(), "sha256:all").get("sha256");
    }

    /** A tmpfs of {@code kib} KiB at a new directory (root; the test fails when mount is refused). */
    static Path tmpfs(String name, int kib, boolean readOnly) throws Exception {
        Path m = Files.createDirectories(dir.resolve(name));
        ChainFixtures.run("mount", "-t", "tmpfs", "-o", "size=" + kib + "k" + (readOnly ? ",ro" : ""), "tmpfs", m.toString());
        MOUNTS.add(m);
        return m;
    }

    /**
     * The run dies after K-1 acknowledged extends (the K-th never reaches the TPM) and its partial log
     * is lost: the journal and the firmware log's copy alone rebuild the whole log, which then replays
     * to the TPM (tpm2_pcrread = our replay = tpm2_eventlog); the journal ends finished, and the next
     * boot with the same state directory archives it and continues the rebuilt log.
     */
    @Test
    void theJournalAloneRebuildsTheWholeLogAndTheNextBootGoesOn() throws Exception {
        Path state = dir.resolve("state-rebuild");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            ChainFixtures.Cli c = boot(swtpm, state,
                    tcti -> new FaultyTpm(TpmFactory.open(tcti), K, FaultyTpm.Fault.DROP_BEFORE_SEND, null));
            assertEquals(Main.EXIT_TPM_CHANGED, c.rc(), c.out() + c.err());
            Files.delete(state.resolve("eventlog.partial.bin"));
            assertFalse(Files.exists(state.resolve("eventlog.bin")));

            Path journal = state.resolve("journal.jsonl");
            ChainFixtures.Cli r = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(),
                    "--tpm", swtpm.tcti(), "--complete");
            assertTrue(r.out().contains("rebuilt the whole log: " + state.resolve("eventlog.bin").toAbsolutePath()), r.out());
            Path log = state.resolve("eventlog.bin");
            MeasuredBootTest.assertLogIsTheTpm(swtpm, log, "the rebuilt log");
            assertTrue(Journal.read(journal).finished());

            // a second recover changes nothing and says so
            ChainFixtures.Cli again = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(), "--tpm", swtpm.tcti());
            assertTrue(again.out().contains("finished"), again.out());

            // the next boot continues the rebuilt log on the same state directory
            Path next = dir.resolve("rebuilt-copy.bin");
            Files.copy(log, next);
            ChainFixtures.Cli b = ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", next.toString(), "--state-dir", state.toString(), "--no-load");
            assertFalse(Files.exists(journal), "archived");
            List<Path> gens;
            try (Stream<Path> s = Files.list(state.resolve("generations"))) {
                gens = s.sorted().toList();
            }
            assertEquals(2, gens.size(), gens.toString());
            assertTrue(gens.get(0).getFileName().toString().startsWith("1-"), gens.toString());
            assertTrue(gens.get(1).getFileName().toString().startsWith("2-"), gens.toString());
            for (Path g : gens) {
                assertTrue(Journal.read(g.resolve("journal.jsonl")).finished());
                assertTrue(Files.exists(g.resolve("firmware-log.bin")));
            }
            assertTrue(b.out().contains("generation: " + gens.get(1)), b.out());
            MeasuredBootTest.assertTpmEqualsReplays(swtpm, log, EventLog.parse(Files.readAllBytes(log)), List.of("sha256"));
        }
    }

    /**
     * One flipped hex digit of the open intent's digest: recover names the line and extends nothing
     * (before, it extended the altered digest and verify then said OK); the boot refuses naming it too.
     */
    @Test
    void aDamagedJournalIsNamedNeverReplayed() throws Exception {
        Path state = dir.resolve("state-damaged");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            assertEquals(Main.EXIT_TPM_CHANGED, boot(swtpm, state,
                    tcti -> new FaultyTpm(TpmFactory.open(tcti), K, FaultyTpm.Fault.DROP_BEFORE_SEND, null)).rc());
            Path journal = state.resolve("journal.jsonl");
            List<String> lines = Files.readAllLines(journal, StandardCharsets.UTF_8);
            int last = lines.size() - 1;
            assertTrue(lines.get(last).contains("\"state\":\"intent\""), lines.get(last));
            String l = lines.get(last);
            int at = l.indexOf("\"sha256\":\"") + 10 + 7;
            char flipped = l.charAt(at) == '0' ? '1' : '0';
            lines.set(last, l.substring(0, at) + flipped + l.substring(at + 1));
            Files.write(journal, (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));

            Map<Integer, String> before = pcrs(swtpm);
            ChainFixtures.Cli r = ChainFixtures.cli(Main.EXIT_BAD_INPUT, "eventlog", "recover", "--journal", journal.toString(),
                    "--tpm", swtpm.tcti(), "--complete");
            assertTrue(r.err().contains("line " + (last + 1) + ": integrity check failed"), r.err());
            assertEquals(before, pcrs(swtpm), "nothing extended");
            ChainFixtures.Cli b = boot(swtpm, state, TpmOpener.DEFAULT);
            assertEquals(Main.EXIT_BAD_INPUT, b.rc());
            assertTrue(b.err().contains("line " + (last + 1)), b.err());
            assertEquals(before, pcrs(swtpm), "nothing extended");
        }
    }

    /** An output on a read-only file system, or on one too small, is refused before the first extend, naming it. */
    @Test
    void unwritableOrFullOutputsAreNamedBeforeTheFirstExtend() throws Exception {
        Path ro = tmpfs("ro", 64, true);
        Path tiny = tmpfs("tiny", 64, false);
        Files.write(tiny.resolve("filler"), new byte[60 << 10]); // 4 KiB left: less than any output needs
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            Map<Integer, String> before = pcrs(swtpm);
            Path state = dir.resolve("state-outputs");
            ChainFixtures.Cli a = boot(swtpm, state, TpmOpener.DEFAULT, "--eventlog-out", ro.resolve("log.bin").toString());
            assertEquals(Main.EXIT_BAD_INPUT, a.rc(), a.out() + a.err());
            assertTrue(a.err().contains(ro.resolve("log.bin") + ": cannot write in " + ro), a.err());
            assertTrue(a.err().contains("nothing was extended"), a.err());

            ChainFixtures.Cli b = boot(swtpm, state, TpmOpener.DEFAULT, "--eventlog-out", tiny.resolve("log.bin").toString());
            assertEquals(Main.EXIT_BAD_INPUT, b.rc(), b.out() + b.err());
            assertTrue(b.err().contains(tiny.resolve("log.bin") + ": no space left for it"), b.err());

            ChainFixtures.Cli c = boot(swtpm, tiny.resolve("state"), TpmOpener.DEFAULT);
            assertEquals(Main.EXIT_BAD_INPUT, c.rc(), c.out() + c.err());
            assertTrue(c.err().contains(tiny.resolve("state") + "/") && c.err().contains("no space left for it"), c.err());

            assertEquals(before, pcrs(swtpm), "nothing extended");
            assertFalse(Files.exists(state.resolve("journal.jsonl")));
            // and with room the same boot succeeds
            assertEquals(0, boot(swtpm, state, TpmOpener.DEFAULT).rc());
        }
    }

    /**
     * Someone else extends PCR 12 in the middle of the commit: the read-back after the last extend
     * reports it (exit 4), and recovery finds PCR 12 diverged (exit 1) rather than guessing.
     */
    @Test
    void anExtendByAnyoneElseDuringTheCommitIsReported() throws Exception {
        Path state = dir.resolve("state-intruder");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            ChainFixtures.Cli c = boot(swtpm, state, tcti -> {
                Tpm real = TpmFactory.open(tcti);
                return new FaultyTpm(real, K, FaultyTpm.Fault.ACTION_THEN_SEND,
                        () -> real.extend(12, Map.of(HashAlg.SHA256, new byte[32])));
            });
            assertEquals(Main.EXIT_TPM_CHANGED, c.rc(), c.out() + c.err());
            assertTrue(c.err().contains("something other than this run extended them during the commit"), c.err());
            assertTrue(c.err().contains("sha256 PCR 12 holds"), c.err());
            ChainFixtures.Cli r = ChainFixtures.cli(Main.EXIT_CHECK_FAILED, "eventlog", "recover", "--journal",
                    state.resolve("journal.jsonl").toString(), "--tpm", swtpm.tcti(), "--complete");
            assertTrue(r.out().contains("DIVERGED: PCR 12"), r.out());
        }
    }

    /** The state directory's and the TPM's locks refuse a second writer at once, naming the lock; a wait outlives a short hold. */
    @Test
    void heldLocksRefuseASecondWriter() throws Exception {
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            Map<Integer, String> before = pcrs(swtpm);
            Path state = dir.resolve("state-locked");
            try (Locks.Held h = Locks.tpm(swtpm.tcti(), Duration.ZERO)) {
                ChainFixtures.Cli c = boot(swtpm, state, TpmOpener.DEFAULT);
                assertEquals(Main.EXIT_BAD_INPUT, c.rc(), c.err());
                assertTrue(c.err().contains("the TPM " + swtpm.tcti() + " is in use by another kexec-measured run"), c.err());
                assertTrue(c.err().contains("swtpm-"), c.err());
            }
            try (Locks.Held h = Locks.stateDir(state, Duration.ZERO)) {
                ChainFixtures.Cli c = boot(swtpm, state, TpmOpener.DEFAULT);
                assertEquals(Main.EXIT_BAD_INPUT, c.rc(), c.err());
                assertTrue(c.err().contains("the state directory " + state + " is in use"), c.err());
            }
            assertEquals(before, pcrs(swtpm), "nothing extended");
            Locks.Held h = Locks.tpm(swtpm.tcti(), Duration.ZERO);
            Thread release = new Thread(() -> {
                try {
                    TimeUnit.MILLISECONDS.sleep(500);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
                h.close();
            });
            release.start();
            ChainFixtures.Cli c = boot(swtpm, state, TpmOpener.DEFAULT, "--lock-wait", "2m");
            release.join();
            assertEquals(0, c.rc(), c.err());
            assertNotEquals(before, pcrs(swtpm));
        }
    }

    /**
     * Two {@code recover --complete} at once on one journal: the locks let one complete it; the other is
     * refused or finds it finished. The journal stays valid (every line checked), the dropped extend was
     * sent exactly once, and the rebuilt log replays to the TPM.
     */
    @Test
    void concurrentRecoveriesNeverContradictEachOther() throws Exception {
        Path state = dir.resolve("state-concurrent-recover");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            assertEquals(Main.EXIT_TPM_CHANGED, boot(swtpm, state,
                    tcti -> new FaultyTpm(TpmFactory.open(tcti), K, FaultyTpm.Fault.DROP_BEFORE_SEND, null)).rc());
            Path journal = state.resolve("journal.jsonl");
            int before = Journal.read(journal).entries().size();
            ChainFixtures.Cli[] results = new ChainFixtures.Cli[2];
            Thread[] ts = new Thread[2];
            for (int i = 0; i < 2; i++) {
                int n = i;
                ts[i] = new Thread(() -> results[n] = ChainFixtures.cli("eventlog", "recover", "--journal", journal.toString(),
                        "--tpm", swtpm.tcti(), "--complete"));
                ts[i].start();
            }
            for (Thread t : ts) t.join();
            long ok = Stream.of(results).filter(r -> r.rc() == 0).count();
            assertTrue(ok >= 1, results[0] + " / " + results[1]);
            for (ChainFixtures.Cli r : results) {
                assertTrue(r.rc() == 0 || (r.rc() == Main.EXIT_BAD_INPUT && r.err().contains("is in use")), r.toString());
            }
            Journal.Contents jc = Journal.read(journal);
            assertTrue(jc.finished());
            assertEquals(before + 1, jc.entries().size(), "one new intent for the one dropped extend");
            assertEquals(1, Stream.of(results).filter(r -> r.out().contains("extended now")).count());
            Path log = state.resolve("eventlog.bin");
            MeasuredBootTest.assertTpmEqualsReplays(swtpm, log, EventLog.parse(Files.readAllBytes(log)), List.of("sha256"));
        }
    }

    @Test
    void oneTpmOneLockName() {
        assertEquals("tpm0", Locks.tpmId("device:/dev/tpmrm0"));
        assertEquals("tpm0", Locks.tpmId("device:/dev/tpm0"));
        assertEquals("tpm0", Locks.tpmId("device"));
        assertEquals("swtpm-127.0.0.1-2321", Locks.tpmId("swtpm:"));
        assertEquals("swtpm-127.0.0.1-4000", Locks.tpmId("swtpm:host=127.0.0.1,port=4000,timeout=10"));
        assertEquals("swtpm-path-_run_x.sock", Locks.tpmId("swtpm:path=/run/x.sock"));
    }
}
