package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.util.BadInputException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Truncated and corrupted logs: a precise error (record, offset), the records before it in lenient mode. */
class CorruptionTest {

    private static void le32(byte[] b, long off, long v) {
        for (int i = 0; i < 4; i++) b[(int) off + i] = (byte) (v >>> (8 * i));
    }

    /** Strict parse fails naming record k at its offset; lenient parse returns exactly records 0..k-1. */
    private static void assertFailsAt(byte[] b, int k, long off, String what) {
        BadInputException e = assertThrows(BadInputException.class, () -> EventLog.parse(b), what);
        assertTrue(e.getMessage().startsWith("record " + k + " at byte offset " + off + " "), what + ": " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), what);
        EventLogParser.Result r = EventLogParser.parseLenient(b);
        assertNotNull(r.error(), what);
        assertEquals(k, r.log().events().size(), what + ": records before the error");
    }

    @Test
    void cutsAtRecordBoundariesLeaveValidShorterLogs() {
        int checked = 0;
        for (Path p : Fixtures.goodLogs()) {
            byte[] b = Fixtures.read(p);
            EventLog log = EventLog.parse(b);
            List<Event> ev = log.events();
            for (int k = 1; k < ev.size(); k++) {
                byte[] cut = Arrays.copyOf(b, (int) ev.get(k).offset());
                EventLog shorter = EventLog.parse(cut);
                assertEquals(k, shorter.events().size(), p.getFileName() + " cut before record " + k);
                assertArrayEquals(cut, shorter.toBytes());
                checked++;
            }
        }
        assertTrue(checked > 700, "boundaries checked: " + checked);
    }

    @Test
    void cutsInsideRecordsFailWithRecordAndOffset() {
        int checked = 0;
        for (Path p : Fixtures.goodLogs()) {
            byte[] b = Fixtures.read(p);
            List<Event> ev = EventLog.parse(b).events();
            for (Event e : ev) {
                long start = e.offset();
                long size = EventLogWriter.recordSize(e);
                for (long cut : new long[]{start + 1, start + 3, start + size / 2, start + size - 1}) {
                    if (cut <= start || cut >= start + size) continue;
                    if (e.index() == 0 && cut > start + size - e.overhangSize() - 1 && e.overhangSize() > 0) continue;
                    assertFailsAt(Arrays.copyOf(b, (int) cut), e.index(), start, p.getFileName() + " cut at " + cut);
                    checked++;
                }
            }
        }
        assertTrue(checked > 2500, "cuts checked: " + checked);
    }

    @Test
    void hugeSizeFieldsFailWithoutAllocating() {
        int checked = 0;
        for (Path p : Fixtures.goodLogs()) {
            byte[] b = Fixtures.read(p);
            EventLog log = EventLog.parse(b);
            for (Event e : log.events()) {
                if (e.overhangSize() > 0) continue;
                long sizeField = e.offset() + EventLogWriter.recordSize(e) - e.dataSize() - 4;
                long left = b.length - sizeField - 4;
                for (long v : new long[]{0xffffffffL, 0x7fffffffL, 0x80000000L, left + 1}) {
                    byte[] c = b.clone();
                    le32(c, sizeField, v);
                    assertFailsAt(c, e.index(), e.offset(), p.getFileName() + " record " + e.index() + " EventSize " + v);
                    checked++;
                }
                if (!e.isLegacyRecord()) {
                    byte[] c = b.clone();
                    le32(c, e.offset() + 8, 0xffffffffL);
                    assertFailsAt(c, e.index(), e.offset(), p.getFileName() + " record " + e.index() + " digest count");
                    checked++;
                }
            }
            if (log.format() == LogFormat.CRYPTO_AGILE) {
                byte[] c = b.clone();
                le32(c, 32 + 24, 0xffffffffL); // numberOfAlgorithms
                assertFailsAt(c, 0, 0, p.getFileName() + " numberOfAlgorithms");
                c = b.clone();
                le32(c, 32 + 24, 0x40000000L);
                assertFailsAt(c, 0, 0, p.getFileName() + " numberOfAlgorithms");
                c = b.clone();
                int n = log.specId().algorithms().size();
                if (log.events().size() > 1) {
                    c[32 + 28 + 4 * n] = (byte) 0xff; // vendorInfoSize past the Spec ID event
                    assertFailsAt(c, 0, 0, p.getFileName() + " vendorInfoSize");
                    checked++;
                }
                c = b.clone();
                c[32 + 28 + 2] = 7; // sha1 listed with a 7-byte digest size
                c[32 + 28 + 3] = 0;
                assertFailsAt(c, 0, 0, p.getFileName() + " digestSize");
                checked += 3;
            }
        }
        assertTrue(checked > 3000, "corruptions checked: " + checked);
    }

    @Test
    void garbageAndEmptyInputAreRejected() {
        assertFailsAt(Fixtures.read(Fixtures.BAD), 0, 0, Fixtures.BAD);
        BadInputException e = assertThrows(BadInputException.class, () -> EventLog.parse(new byte[0]));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
    }

    // ---- the CLI: one line on stderr, exit 2; with --lenient the records read so far ----

    private static void assertOneLineError(VerifyTest.Cli c, String what) {
        assertEquals(Main.EXIT_BAD_INPUT, c.rc(), what + ": " + c.err());
        assertEquals(1, c.err().lines().count(), what + ": " + c.err());
        assertTrue(c.err().startsWith("kexec-measured: error: "), c.err());
        assertFalse(c.err().contains("\tat ") || c.err().contains("Exception"), c.err());
    }

    @Test
    void cliReportsCorruptLogsOnOneLineAndLenientShowsTheRecordsSoFar() throws Exception {
        Path dir = Files.createTempDirectory("eventlog-corrupt");
        try {
            VerifyTest.Cli bad = VerifyTest.cli("eventlog", "show", Fixtures.eventlogs().resolve(Fixtures.BAD).toString());
            assertOneLineError(bad, "garbage");
            assertTrue(bad.err().contains("record 0 at byte offset 0"), bad.err());
            assertEquals("", bad.out());
            VerifyTest.Cli badLenient = VerifyTest.cli("eventlog", "show", "--lenient",
                    Fixtures.eventlogs().resolve(Fixtures.BAD).toString());
            assertOneLineError(badLenient, "garbage lenient");
            assertTrue(badLenient.out().contains("0 records"), badLenient.out());

            byte[] b = Fixtures.read("ovmf-sdboot-fedora37.bin");
            List<Event> ev = EventLog.parse(b).events();
            int n = 0;
            for (Event e : ev) {
                for (long cut : new long[]{e.offset() + 2, e.offset() + EventLogWriter.recordSize(e) - 1}) {
                    Path f = dir.resolve("cut-" + cut + ".bin");
                    Files.write(f, Arrays.copyOf(b, (int) cut));
                    for (String sub : new String[]{"show", "replay", "findings"}) {
                        VerifyTest.Cli c = VerifyTest.cli("eventlog", sub, f.toString());
                        assertOneLineError(c, sub + " " + f);
                        assertTrue(c.err().contains("record " + e.index() + " at byte offset " + e.offset()), c.err());
                    }
                    VerifyTest.Cli l = VerifyTest.cli("eventlog", "show", "--lenient", f.toString());
                    assertOneLineError(l, "lenient " + f);
                    assertTrue(l.out().contains(", " + e.index() + " records"), l.out());
                    assertEquals(e.index(), l.out().lines().filter(s -> s.startsWith("#")).count(), l.out());
                    VerifyTest.Cli j = VerifyTest.cli("eventlog", "show", "--lenient", "--json", f.toString());
                    assertTrue(j.out().contains("\"complete\" : false"), j.out());
                    n++;
                }
            }
            assertEquals(2 * ev.size(), n);
            VerifyTest.Cli missing = VerifyTest.cli("eventlog", "show", dir.resolve("nope.bin").toString());
            assertOneLineError(missing, "missing file");
        } finally {
            try (var s = Files.list(dir)) {
                for (Path f : s.toList()) Files.delete(f);
            }
            Files.delete(dir);
        }
    }
}
