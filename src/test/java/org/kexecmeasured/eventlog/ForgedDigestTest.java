package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A record that omits a bank's digest must not let a forged event pass verification of that bank,
 * and a digest list that names one bank twice is malformed.
 */
public class ForgedDigestTest {

    /**
     * A sha1+sha256 log with two honest PCR 7 records and, as record 3, a forged
     * EV_EFI_VARIABLE_DRIVER_CONFIG for PCR 7 that carries only a sha1 digest. {@code digests} replaces
     * the forged record's digest list.
     */
    public static EventLog forged(List<Digest> digests) {
        EventLog honest = EventLog.newCryptoAgile(List.of(HashAlg.SHA1, HashAlg.SHA256))
                .appendMeasured(7, EventType.EV_EFI_VARIABLE_DRIVER_CONFIG, bytes("SecureBoot=1"), bytes("SecureBoot=1"))
                .appendMeasured(7, EventType.EV_SEPARATOR, new byte[4], new byte[4])
                .build();
        List<Event> ev = new ArrayList<>(honest.events());
        byte[] data = bytes("db=attacker-cert");
        ev.add(new Event(ev.size(), EventLogWriter.size(honest), 7, EventType.EV_EFI_VARIABLE_DRIVER_CONFIG, digests, data, false));
        return new EventLog(LogFormat.CRYPTO_AGILE, honest.specId(), ev);
    }

    public static EventLog forgedSha1Only() {
        return forged(List.of(new Digest(HashAlg.SHA1.algId, HashAlg.SHA1.digest(bytes("db=attacker-cert")))));
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void recordWithoutTheBanksDigestMakesThePcrUnverifiable() {
        EventLog log = EventLog.parse(forgedSha1Only().toBytes()); // the parser accepts it: only replay knows
        assertTrue(Quirks.find(log).stream().anyMatch(f -> f.id().equals(Quirks.DIGESTS_DIFFER_FROM_SPEC_ID)
                && f.records().equals(List.of(3))), Quirks.find(log).toString());
        // the sha256 replay skips the forged record, so "expected = replay" is the attacker's easy case
        byte[] sha256Pcr7 = Replay.replay(log).get(HashAlg.SHA256)[7];
        PcrSet expected = new PcrSet(java.util.Map.of(HashAlg.SHA256, java.util.Map.of(7, sha256Pcr7)));
        Verification.Result v = Verification.verify(log, expected);
        assertFalse(v.ok());
        assertEquals(1, v.mismatches().size());
        Verification.Mismatch m = v.mismatches().get(0);
        assertEquals(HashAlg.SHA256, m.bank());
        assertEquals(7, m.pcr());
        assertTrue(m.unverifiable());
        assertEquals(List.of(3), m.lackingDigest().stream().map(Event::index).toList());
        assertTrue(m.explanation().contains("#3") && m.explanation().contains("sha256"), m.explanation());
        // the sha1 bank has every record's digest: it still verifies
        PcrSet sha1 = new PcrSet(java.util.Map.of(HashAlg.SHA1, java.util.Map.of(7, Replay.replay(log).get(HashAlg.SHA1)[7])));
        assertTrue(Verification.verify(log, sha1).ok());
        // a PCR the forged record does not feed is unaffected
        PcrSet other = new PcrSet(java.util.Map.of(HashAlg.SHA256, java.util.Map.of(0, Replay.replay(log).get(HashAlg.SHA256)[0])));
        assertTrue(Verification.verify(log, other).ok());
    }

    @Test
    void eventlogVerifyRejectsTheForgedLog() throws IOException {
        EventLog log = forgedSha1Only();
        Path dir = Files.createTempDirectory("forged");
        try {
            Path bin = Files.write(dir.resolve("forged.bin"), log.toBytes());
            String pcr7 = Hex.of(Replay.replay(log).get(HashAlg.SHA256)[7]);
            Path pcrs = Files.writeString(dir.resolve("p.json"), "{\"sha256\": {\"7\": \"" + pcr7 + "\"}}");
            VerifyTest.Cli c = VerifyTest.cli("eventlog", "verify", bin.toString(), "--pcrs", pcrs.toString());
            assertEquals(Main.EXIT_CHECK_FAILED, c.rc(), c.out() + c.err());
            assertFalse(c.out().contains("ok:"), c.out());
            assertTrue(c.out().startsWith("UNVERIFIABLE sha256 PCR 7"), c.out());
            assertTrue(c.out().contains("record(s) #3"), c.out());
            VerifyTest.Cli j = VerifyTest.cli("eventlog", "verify", bin.toString(), "--pcrs", pcrs.toString(), "--json");
            assertEquals(Main.EXIT_CHECK_FAILED, j.rc(), j.out() + j.err());
            assertTrue(j.out().contains("\"unverifiable\" : true"), j.out());
        } finally {
            try (var s = Files.list(dir)) {
                for (Path f : s.toList()) Files.delete(f);
            }
            Files.delete(dir);
        }
    }

    @Test
    void duplicateAlgorithmInADigestListIsBadInput() {
        byte[] d = bytes("db=attacker-cert");
        EventLog log = forged(List.of(new Digest(HashAlg.SHA1.algId, HashAlg.SHA1.digest(d)),
                new Digest(HashAlg.SHA256.algId, new byte[32]),
                new Digest(HashAlg.SHA256.algId, HashAlg.SHA256.digest(d))));
        byte[] b = log.toBytes();
        BadInputException e = assertThrows(BadInputException.class, () -> EventLog.parse(b));
        long off = log.events().get(3).offset();
        assertTrue(e.getMessage().contains("record 3 at byte offset " + off), e.getMessage());
        assertTrue(e.getMessage().contains("repeats algorithm 0x000b"), e.getMessage());
        // lenient: the records before the bad one survive
        EventLogParser.Result r = EventLogParser.parseLenient(b);
        assertEquals(3, r.log().events().size());
        assertFalse(r.complete());
        // a sha1 digest listed twice (the other bank missing) is rejected the same way
        EventLog twice = forged(List.of(new Digest(HashAlg.SHA1.algId, HashAlg.SHA1.digest(d)),
                new Digest(HashAlg.SHA1.algId, HashAlg.SHA1.digest(d))));
        assertThrows(BadInputException.class, () -> EventLog.parse(twice.toBytes()));
    }
}
