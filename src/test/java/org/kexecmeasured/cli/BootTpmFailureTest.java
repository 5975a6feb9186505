package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmFactory;
import org.kexecmeasured.tpm.TpmOpener;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A TPM that fails in the middle of a measured boot: the run stops with a clear error, the journal
 * and {@code eventlog verify --journal} / {@code eventlog recover} name exactly which extends reached
 * the (real) TPM, and recovery completes the journaled sequence. The fault is injected through the
 * CLI's {@link Services} (a TPM opener that wraps the real TPM); the TPM is a real swtpm. A run that
 * stopped after extends exits 4 ({@link Main#EXIT_TPM_CHANGED}).
 */
class BootTpmFailureTest {

    @TempDir
    static Path dir;
    static Path uki;
    static Path fwFile;
    /** 6 boundary extends, PCR 4 action, PCR 4 UKI image; #9 is the first extend of the stub's own events. */
    static final int K = 9;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki"));
        fwFile = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
    }

    private static ChainFixtures.Cli boot(Swtpm swtpm, Path state) {
        return boot(swtpm, state, TpmOpener.DEFAULT);
    }

    /** {@code boot --no-load} with the TPM opened through {@code opener} (the fault seam). */
    private static ChainFixtures.Cli boot(Swtpm swtpm, Path state, TpmOpener opener) {
        return ChainFixtures.cli(Services.DEFAULT.withTpm(opener), "boot", uki.resolve("demo.efi").toString(),
                "--tpm", swtpm.tcti(), "--firmware-log", fwFile.toString(), "--state-dir", state.toString(), "--no-load");
    }

    @Test
    void killedTpmStopsTheRunAndTheJournalNamesWhatReachedIt() throws Exception {
        Path state = dir.resolve("state-kill");
        Path snapshot = dir.resolve("pcrs-at-death.json");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            TpmOpener killing = tcti -> {
                Tpm real = TpmFactory.open(tcti);
                return new FaultyTpm(real, K, FaultyTpm.Fault.ACTION_THEN_SEND, () -> {
                    // the TPM's last state, read from the TPM itself, then SIGKILL
                    byte[][] v = real.readPcrs(PcrSelection.of(List.of(HashAlg.SHA256),
                            IntStream.range(0, 24).boxed().toList())).get(HashAlg.SHA256);
                    Map<String, String> m = new TreeMap<>();
                    for (int i = 0; i < 24; i++) m.put(Integer.toString(i), Hex.of(v[i]));
                    try {
                        Files.writeString(snapshot, new ObjectMapper().writeValueAsString(Map.of("sha256", m)));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    swtpm.kill();
                });
            };
            ChainFixtures.Cli c = boot(swtpm, state, killing);
            assertEquals(Main.EXIT_TPM_CHANGED, c.rc(), c.out() + c.err());
            assertTrue(c.err().contains("the TPM failed at extend #" + K), c.err());
            assertTrue(c.err().contains((K - 1) + " earlier extend(s) acknowledged"), c.err());
            assertTrue(c.err().contains("eventlog recover --journal"), c.err());
            assertEquals(1, c.err().lines().count(), "one line: " + c.err());
            assertFalse(Files.exists(state.resolve("eventlog.bin")), "no final log after a failed run");
            assertFalse(swtpm.alive());
        }
        Path journal = state.resolve("journal.jsonl");
        Journal.Contents jc = Journal.read(journal);
        assertEquals(K, jc.entries().size());
        for (int i = 0; i < K - 1; i++) assertEquals(Journal.State.DONE, jc.entries().get(i).state());
        assertEquals(Journal.State.INTENT, jc.entries().get(K - 1).state());

        // the partial log (firmware + acknowledged extends) matches the TPM as it died, and the journal says why
        ChainFixtures.Cli v = ChainFixtures.cli(0, "eventlog", "verify", state.resolve("eventlog.partial.bin").toString(),
                "--pcrs", snapshot.toString(), "--journal", journal.toString());
        assertTrue(v.out().contains((K - 1) + " of " + K + " journaled extend(s) reached the TPM"), v.out());
        assertTrue(v.out().lines().anyMatch(l -> l.contains("#" + K + " ") && l.contains("did NOT reach")), v.out());
        assertEquals(K - 1, v.out().lines().filter(l -> l.contains("reached the TPM (acknowledged)")).count(), v.out());

        // a second run on the same state refuses: the journal is evidence
        try (Swtpm again = Swtpm.start(List.of("sha256"))) {
            ChainFixtures.Cli r = boot(again, state);
            assertEquals(Main.EXIT_BAD_INPUT, r.rc());
            assertTrue(r.err().contains("journal.jsonl exists"), r.err());
        }
    }

    /**
     * swtpm is killed (SIGKILL) as extend #K goes out; its volatile state was stored just before, so the
     * restarted TPM holds the PCRs of the moment it died, like a TPM whose connection died while the
     * platform kept power. The run exits 4; {@code recover --complete} extends #K through the same write
     * path as the boot (a new intent, the old one closed as failed, extend, done), and the completed log
     * verifies against the live TPM (tpm2_pcrread checks the values independently).
     */
    @Test
    void killedMidCommitThenRecoverCompletesThroughTheSamePipeline() throws Exception {
        Path state = dir.resolve("state-kill-recover");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            ChainFixtures.Cli c = boot(swtpm, state, tcti -> new FaultyTpm(TpmFactory.open(tcti), K,
                    FaultyTpm.Fault.ACTION_THEN_SEND, () -> {
                        swtpm.storeVolatileState();
                        swtpm.kill();
                    }));
            assertEquals(Main.EXIT_TPM_CHANGED, c.rc(), c.out() + c.err());
            assertTrue(c.err().contains("the TPM failed at extend #" + K), c.err());
            swtpm.restart();
            Path journal = state.resolve("journal.jsonl");
            Path partial = state.resolve("eventlog.partial.bin");
            ChainFixtures.Cli r = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(),
                    "--tpm", swtpm.tcti(), "--complete", "--eventlog", partial.toString());
            assertTrue(r.out().lines().anyMatch(l -> l.contains("#" + K + " ") && l.contains("did NOT reach")), r.out());
            assertTrue(r.out().lines().anyMatch(l -> l.contains("#" + K + " ") && l.contains("extended now (journal #" + (K + 1) + ")")),
                    r.out());
            Journal.Contents jc = Journal.read(journal);
            assertEquals(Journal.State.FAILED, jc.entries().get(K - 1).state(), "the original intent is closed");
            assertEquals(Journal.State.DONE, jc.entries().get(K).state(), "the new one is done");
            ChainFixtures.Cli ok = ChainFixtures.cli(0, "eventlog", "verify", partial.toString(), "--tpm", swtpm.tcti(),
                    "--journal", journal.toString());
            assertTrue(ok.out().contains("ok: 24 PCR value(s)"), ok.out());
            Map<Integer, byte[]> expect = new LinkedHashMap<>(jc.start().get(HashAlg.SHA256));
            for (Journal.Entry e : jc.entries()) {
                if (e.state() != Journal.State.DONE) continue;
                var m = e.measurement();
                expect.put(m.pcr(), HashAlg.SHA256.extend(expect.get(m.pcr()), m.digests().get(HashAlg.SHA256)));
            }
            Map<String, Map<Integer, String>> tpm = Tpm2Tools.pcrread(swtpm.tcti(), "sha256:4,5,9,11,12,13");
            for (Map.Entry<Integer, byte[]> e : expect.entrySet()) {
                assertEquals(Hex.of(e.getValue()), tpm.get("sha256").get(e.getKey()), "PCR " + e.getKey());
            }
        }
    }

    @Test
    void droppedExtendIsFoundAndCompletedByRecover() throws Exception {
        Path state = dir.resolve("state-drop");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            ChainFixtures.Cli c = boot(swtpm, state,
                    tcti -> new FaultyTpm(TpmFactory.open(tcti), K, FaultyTpm.Fault.DROP_BEFORE_SEND, null));
            assertEquals(Main.EXIT_TPM_CHANGED, c.rc(), c.out() + c.err());
            assertTrue(c.err().contains("may or may not have reached"), c.err());
            Path journal = state.resolve("journal.jsonl");

            ChainFixtures.Cli r = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(), "--tpm", swtpm.tcti());
            assertTrue(r.out().lines().anyMatch(l -> l.contains("#" + K + " ") && l.contains("did NOT reach")), r.out());
            assertTrue(r.out().contains("run with --complete"), r.out());

            Path partial = state.resolve("eventlog.partial.bin");
            // before recovery the partial log is exactly what the TPM holds (the dropped extend never reached it)
            ChainFixtures.cli(0, "eventlog", "verify", partial.toString(), "--tpm", swtpm.tcti());
            Path before = dir.resolve("partial-before-recovery.bin");
            Files.copy(partial, before);
            ChainFixtures.Cli done = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(),
                    "--tpm", swtpm.tcti(), "--complete", "--eventlog", partial.toString());
            assertTrue(done.out().contains("extended now"), done.out());
            // the completed log replays to the live TPM again
            ChainFixtures.Cli ok = ChainFixtures.cli(0, "eventlog", "verify", partial.toString(), "--tpm", swtpm.tcti(),
                    "--journal", journal.toString());
            assertTrue(ok.out().contains("ok: 24 PCR value(s)"), ok.out());
            ChainFixtures.cli(Main.EXIT_CHECK_FAILED, "eventlog", "verify", before.toString(), "--tpm", swtpm.tcti());

            // tpm2_pcrread now equals the journal's start values extended with every journaled digest
            Journal.Contents jc = Journal.read(journal);
            Map<Integer, byte[]> expect = new LinkedHashMap<>(jc.start().get(HashAlg.SHA256));
            for (int i = 0; i < K; i++) {
                var m = jc.entries().get(i).measurement();
                expect.put(m.pcr(), HashAlg.SHA256.extend(expect.get(m.pcr()), m.digests().get(HashAlg.SHA256)));
            }
            Map<String, Map<Integer, String>> tpm = Tpm2Tools.pcrread(swtpm.tcti(), "sha256:4,5,9,11,12,13");
            for (Map.Entry<Integer, byte[]> e : expect.entrySet()) {
                assertEquals(Hex.of(e.getValue()), tpm.get("sha256").get(e.getKey()), "PCR " + e.getKey());
            }
            // and a second look finds nothing left to do and every PCR explained
            ChainFixtures.Cli again = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(), "--tpm", swtpm.tcti());
            assertTrue(again.out().contains("nothing to complete"), again.out());
        }
    }

    @Test
    void lostAnswerIsRecognisedFromThePcrs() throws Exception {
        Path state = dir.resolve("state-lost");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            assertEquals(Main.EXIT_TPM_CHANGED, boot(swtpm, state,
                    tcti -> new FaultyTpm(TpmFactory.open(tcti), K, FaultyTpm.Fault.LOSE_ANSWER, null)).rc());
            Path journal = state.resolve("journal.jsonl");
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), "sha256:all");
            ChainFixtures.Cli r = ChainFixtures.cli(0, "eventlog", "recover", "--journal", journal.toString(),
                    "--tpm", swtpm.tcti(), "--complete");
            assertTrue(r.out().lines().anyMatch(l -> l.contains("#" + K + " ") && l.contains("not acknowledged: the PCR shows it")), r.out());
            assertTrue(r.out().contains("marked done"), r.out());
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), "sha256:all"), "nothing extended twice");
            assertEquals(Journal.State.DONE, Journal.read(journal).entries().get(K - 1).state());
        }
    }
}
