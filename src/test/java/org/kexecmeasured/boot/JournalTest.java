package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JournalTest {

    private static final List<HashAlg> BANKS = List.of(HashAlg.SHA1, HashAlg.SHA256);

    private static Measurement m(int pcr, String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        return Measurement.of(pcr, 0xD, BANKS, b, b);
    }

    /** A tiny PCR model: the independent replay the recovery must agree with. */
    private static Map<HashAlg, Map<Integer, byte[]>> pcrs(Map<Integer, List<Measurement>> applied) {
        Map<HashAlg, Map<Integer, byte[]>> out = new EnumMap<>(HashAlg.class);
        for (HashAlg a : BANKS) {
            Map<Integer, byte[]> bank = new TreeMap<>();
            for (int pcr : List.of(11, 12)) {
                byte[] v = new byte[a.size];
                for (Measurement x : applied.getOrDefault(pcr, List.of())) {
                    v = a.extend(v, x.digests().get(a));
                }
                bank.put(pcr, v);
            }
            out.put(a, bank);
        }
        return out;
    }

    @Test
    void crashAfterIntentIsResolvedFromPcrValues(@TempDir Path dir) throws Exception {
        Measurement a = m(11, "a"), b = m(11, "b"), c = m(12, "c");
        Path f = dir.resolve("journal");
        try (Journal j = Journal.create(f, pcrs(Map.of()))) {
            j.done(j.intent(a));
            j.intent(b);           // crash: outcome of b never written
            j.failed(j.intent(c), "TPM_RC_LOCALITY");
        }
        Journal.Contents contents = Journal.read(f);
        assertEquals(3, contents.entries().size());

        // Case 1: b reached the TPM.
        List<JournalRecovery.PcrResult> r = JournalRecovery.analyse(contents, pcrs(Map.of(11, List.of(a, b))));
        assertEquals(JournalRecovery.Outcome.REACHED, r.get(0).verdicts().get(0).outcome());
        assertEquals(JournalRecovery.Outcome.REACHED_UNACKNOWLEDGED, r.get(0).verdicts().get(1).outcome());
        assertEquals(JournalRecovery.Outcome.REFUSED, r.get(1).verdicts().get(0).outcome());
        assertTrue(r.get(0).consistent() && r.get(1).consistent());

        // Case 2: b did not.
        r = JournalRecovery.analyse(contents, pcrs(Map.of(11, List.of(a))));
        assertEquals(JournalRecovery.Outcome.NOT_REACHED, r.get(0).verdicts().get(1).outcome());

        // Case 3: someone else extended PCR 11: reported, never guessed.
        r = JournalRecovery.analyse(contents, pcrs(Map.of(11, List.of(a, m(11, "intruder")))));
        assertFalse(r.get(0).consistent());
        assertEquals(JournalRecovery.Outcome.DIVERGED, r.get(0).verdicts().get(0).outcome());

        // Case 4: the refused extend of PCR 12 did in fact happen: divergence.
        r = JournalRecovery.analyse(contents, pcrs(Map.of(11, List.of(a), 12, List.of(c))));
        assertFalse(r.get(1).consistent());
    }

    /**
     * The lines are exactly the format tcg2/journal.md specifies (kexec-measured-journal/2), key order
     * included; each line's check is recomputed here from the spec's rule (SHA-256 over the previous
     * line's check and the line without its check) with the JDK's digest, independently of Journal.
     */
    @Test
    void linesAreTheDocumentedFormatByteForByte(@TempDir Path dir) throws Exception {
        byte[] ab = new byte[32];
        java.util.Arrays.fill(ab, (byte) 0xab);
        Measurement tag = new Measurement(4, 6, Map.of(HashAlg.SHA256, ab), new byte[]{1, 2, 3});
        Measurement app = new Measurement(4, 0x80000003, Map.of(HashAlg.SHA256, ab), new byte[]{(byte) 0xff});
        Measurement noAction = new Measurement(5, 3, new EnumMap<>(HashAlg.class), new byte[]{9});
        byte[] ones = new byte[32];
        java.util.Arrays.fill(ones, (byte) 0x11);
        byte[] nonce = new byte[16];
        java.util.Arrays.fill(nonce, (byte) 0x5a);
        Path f = dir.resolve("journal");
        Journal.Origin origin = new Journal.Origin(nonce, "firmware-log.bin", ab, 1234, "/run/x/eventlog.bin");
        try (Journal j = Journal.create(f, origin, Map.of(HashAlg.SHA256, Map.of(11, ones, 4, new byte[32])))) {
            j.done(j.intent(tag));
            j.failed(j.intent(app), "TPM_RC_LOCALITY");
            j.logged(noAction);
            j.finish();
        }
        String d = "ab".repeat(32);
        List<String> bodies = List.of(
                "{\"format\":\"kexec-measured-journal/2\",\"nonce\":\"" + "5a".repeat(16) + "\",\"firmwareLog\":"
                        + "{\"file\":\"firmware-log.bin\",\"sha256\":\"" + d + "\",\"size\":1234},"
                        + "\"eventlogOut\":\"/run/x/eventlog.bin\",\"start\":{\"sha256\":{\"4\":\"" + "00".repeat(32)
                        + "\",\"11\":\"" + "11".repeat(32) + "\"}}}",
                "{\"seq\":1,\"state\":\"intent\",\"pcr\":4,\"type\":6,\"digests\":{\"sha256\":\"" + d + "\"},\"data\":\"AQID\"}",
                "{\"seq\":1,\"state\":\"done\"}",
                "{\"seq\":2,\"state\":\"intent\",\"pcr\":4,\"type\":2147483651,\"digests\":{\"sha256\":\"" + d
                        + "\"},\"data\":\"/w==\"}",
                "{\"seq\":2,\"state\":\"failed\",\"reason\":\"TPM_RC_LOCALITY\"}",
                "{\"seq\":3,\"state\":\"logged\",\"pcr\":5,\"type\":3,\"data\":\"CQ==\"}",
                "{\"state\":\"finished\"}");
        List<String> expect = new java.util.ArrayList<>();
        byte[] prev = new byte[0];
        for (String body : bodies) {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            md.update(prev);
            prev = md.digest(body.getBytes(StandardCharsets.UTF_8));
            expect.add(body.substring(0, body.length() - 1) + ",\"check\":\"" + java.util.HexFormat.of().formatHex(prev) + "\"}");
        }
        assertEquals(expect, Files.readAllLines(f, StandardCharsets.UTF_8));
        Journal.Contents c = Journal.read(f);
        assertEquals(0x80000003, c.entries().get(1).measurement().eventType());
        assertEquals("TPM_RC_LOCALITY", c.entries().get(1).failure());
        assertEquals(Journal.State.LOGGED, c.entries().get(2).state());
        assertTrue(c.finished());
        assertEquals("/run/x/eventlog.bin", c.origin().eventlogOut());
    }

    @Test
    void tornLastLineIsIgnoredButTornMiddleLineIsAnError(@TempDir Path dir) throws Exception {
        Measurement a = m(11, "a");
        Path f = dir.resolve("journal");
        try (Journal j = Journal.create(f, pcrs(Map.of()))) {
            j.done(j.intent(a));
        }
        Files.writeString(f, "{\"seq\":2,\"state\":\"int", StandardOpenOption.APPEND);
        assertEquals(1, Journal.read(f).entries().size());
        Files.writeString(f, "\n{\"seq\":1,\"state\":\"done\"}\n", StandardOpenOption.APPEND);
        assertThrows(org.kexecmeasured.util.BadInputException.class, () -> Journal.read(f));
    }

    @Test
    void resumeCutsATornLineAndContinuesTheSequence(@TempDir Path dir) throws Exception {
        Measurement a = m(11, "a");
        Measurement b = m(12, "b");
        Path f = dir.resolve("journal");
        long open;
        try (Journal j = Journal.create(f, pcrs(Map.of()))) {
            j.done(j.intent(a));
            open = j.intent(b);
        }
        Files.writeString(f, "{\"seq\":3,\"state\":\"int", StandardOpenOption.APPEND);
        try (Journal j = Journal.resume(f)) {
            j.done(open);
            assertEquals(3, j.intent(a));
        }
        Journal.Contents c = Journal.read(f);
        assertEquals(List.of(Journal.State.DONE, Journal.State.DONE, Journal.State.INTENT),
                c.entries().stream().map(Journal.Entry::state).toList());
        assertTrue(Files.readString(f).lines().allMatch(l -> l.startsWith("{") && l.endsWith("}")));
    }

    /**
     * Every line but the header is forced when written (Journal's forcing rule): what a power cut can leave on
     * disk is every line up to the last one forced and, of the line being written, a prefix (torn). Each such
     * state must be one recovery explains: a lost or torn done leaves its intent open, and the PCRs (a model
     * replayed independently) say it reached the TPM.
     */
    @Test
    void aDoneLostToAPowerCutLeavesAnIntentRecoveryExplains(@TempDir Path dir) throws Exception {
        Measurement a = m(11, "a"), b = m(11, "b");
        Path f = dir.resolve("journal");
        long forcedAfterA, forcedAfterB;
        try (Journal j = Journal.create(f, pcrs(Map.of()))) {
            assertTrue(j.hasUnforcedLines(), "the header is forced with the first intent, not on its own");
            long sa = j.intent(a);
            assertFalse(j.hasUnforcedLines(), "an intent is forced, with the header before it");
            forcedAfterA = Files.size(f);
            j.done(sa);
            assertFalse(j.hasUnforcedLines(), "done is forced when written (a power cut can only cut the tail)");
            j.logged(m(11, "log only"));
            assertFalse(j.hasUnforcedLines(), "logged is forced when written");
            long sb = j.intent(b);
            assertFalse(j.hasUnforcedLines());
            forcedAfterB = Files.size(f);
            j.done(sb);
            assertFalse(j.hasUnforcedLines());
        }
        byte[] whole = Files.readAllBytes(f);
        // every cut between the last forced point (after a's intent) and the next one (after b's intent)
        for (long cut = forcedAfterA; cut < forcedAfterB; cut += 7) {
            Files.write(f, java.util.Arrays.copyOf(whole, (int) cut));
            Journal.Contents c = Journal.read(f);
            Journal.Entry first = c.entries().get(0);
            List<JournalRecovery.PcrResult> r = JournalRecovery.analyse(c, pcrs(Map.of(11, List.of(a))));
            assertTrue(r.get(0).consistent(), "cut at " + cut);
            JournalRecovery.Outcome expected = first.state() == Journal.State.DONE
                    ? JournalRecovery.Outcome.REACHED : JournalRecovery.Outcome.REACHED_UNACKNOWLEDGED;
            assertEquals(expected, r.get(0).verdicts().get(0).outcome(), "cut at " + cut);
            // b's intent is not durable at any of these cuts, so b was never sent: nothing names it
            assertTrue(c.entries().stream().noneMatch(e -> e.measurement() != null
                    && java.util.Arrays.equals(e.measurement().eventData(), b.eventData())), "cut at " + cut);
        }
    }

    /**
     * The boot appends finished after the tail it knows (no re-parse) only when the file is byte for byte
     * what it wrote; a journal changed meanwhile, even in place with its size kept, is read strictly
     * (the changed line is named) and nothing is appended.
     */
    @Test
    void finishAfterTheTailChecksTheBytesItWrote(@TempDir Path dir) throws Exception {
        Measurement a = m(11, "a");
        Path f = dir.resolve("journal");
        Journal.Tail tail;
        try (Journal j = Journal.create(f, pcrs(Map.of()))) {
            j.done(j.intent(a));
            tail = j.tail();
        }
        assertEquals(Files.size(f), tail.size());
        Path g = dir.resolve("changed");
        Files.copy(f, g);
        Journal.finish(f, tail);
        Journal.Contents c = Journal.read(f);
        assertTrue(c.finished());
        assertEquals(4, c.lines());

        byte[] b = Files.readAllBytes(g);
        String text = new String(b, StandardCharsets.UTF_8);
        int at = text.indexOf("\"state\":\"done\"");
        b[at + 10] = (byte) 'x'; // "done" -> "xone", same size
        Files.write(g, b);
        org.kexecmeasured.util.BadInputException e = assertThrows(org.kexecmeasured.util.BadInputException.class,
                () -> Journal.finish(g, tail));
        assertTrue(e.getMessage().contains("line 3"), e.getMessage());
        assertEquals(b.length, Files.size(g), "nothing appended to a changed journal");
    }

    /** The writer splices the check into the body it serialized once; Jackson serializing the record with its check is the oracle. */
    @Test
    void splicedCheckIsWhatSerializingTheRecordWithItsCheckGives() throws Exception {
        Measurement a = m(11, "a");
        String check = "00".repeat(32);
        for (Journal.Line l : List.of(Journal.Line.intent(1, a), Journal.Line.logged(2, a), Journal.Line.done(1),
                Journal.Line.failed(1, "TPM_RC_LOCALITY \"quoted\" ü"), Journal.Line.finished())) {
            byte[] body = org.kexecmeasured.util.Json.MAPPER.writeValueAsBytes(l);
            assertEquals(new String(org.kexecmeasured.util.Json.MAPPER.writeValueAsBytes(l.withCheck(check)), StandardCharsets.UTF_8),
                    new String(Journal.withCheck(body, check), StandardCharsets.UTF_8));
        }
        Journal.Header h = new Journal.Header(Journal.FORMAT, "ab", new Journal.FirmwareLogRef("f", "cd", 3), "/x",
                Map.of("sha256", Map.of("4", "ef")), null);
        assertEquals(new String(org.kexecmeasured.util.Json.MAPPER.writeValueAsBytes(h.withCheck(check)), StandardCharsets.UTF_8),
                new String(Journal.withCheck(org.kexecmeasured.util.Json.MAPPER.writeValueAsBytes(h), check), StandardCharsets.UTF_8));
    }

    @Test
    void existingJournalIsNeverOverwritten(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("journal");
        Files.writeString(f, "evidence");
        assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> Journal.create(f, pcrs(Map.of())));
        assertEquals("evidence", Files.readString(f));
    }

    @Test
    void malformedFieldsAreBadInputNamingTheLine(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("journal");
        try (Journal j = Journal.create(f, pcrs(Map.of()))) {
            j.done(j.intent(m(11, "a")));
        }
        String good = Files.readString(f);
        String[] bad = {
                good.replace("\"pcr\":11", "\"pcr\":99"),
                good.replace("\"data\":\"", "\"data\":\"%%%"),
                good.replaceFirst("(\"sha256\":\")[0-9a-f]{64}", "$1abcd"),
        };
        for (String b : bad) {
            Files.writeString(f, b);
            org.kexecmeasured.util.BadInputException e =
                    assertThrows(org.kexecmeasured.util.BadInputException.class, () -> Journal.read(f), b);
            assertTrue(e.getMessage().contains("line 2"), e.getMessage());
        }
    }
}
