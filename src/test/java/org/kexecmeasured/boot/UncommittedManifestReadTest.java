package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The next system reads an uncommitted sidecar's manifest as its record ({@link UncommittedManifest#read}): other
 * formats are not its business, a damaged one is bad input naming the file and the key; and what
 * {@code eventlog show|verify} say about such a sidecar ({@link UncommittedHandOver#describe}). The end-to-end read of
 * a manifest a real load carried is UncommittedHandOverTest (cli) and PendingUncommittedE2eTest.
 */
class UncommittedManifestReadTest {

    private static final String GOOD = """
            {"format":"kexec-measured-uncommitted/1","mode":"pending","committed":false,"explanation":"e","tool":"t",
             "payload":{"name":"x.efi","authenticodeSha256":"00"},"firmwareLog":{"source":"s","records":3},
             "plannedBoundary":"kexec-measured-boundary=1\\nnonce=ab\\n","plannedRecords":7,
             "eventLog":{"tpm2EventLog":"tpm2-event-log.bin","sha256":"11","records":3},"notes":["n"]}
            """;

    @Test
    void readsItsOwnFormatAsTheRecordAndLeavesOthersAlone(@TempDir Path dir) throws Exception {
        Path f = write(dir, GOOD);
        UncommittedManifest m = UncommittedManifest.read(f).orElseThrow();
        assertEquals("pending", m.mode());
        assertEquals(7, m.plannedRecords());
        assertEquals(new UncommittedManifest.LogInfo("tpm2-event-log.bin", "11", 3), m.eventLog());
        assertEquals(List.of("n"), m.notes());
        // what the writer writes, the reader reads back whole
        assertEquals(Optional.of(m), UncommittedManifest.read(write(dir, Json.PRETTY.writeValueAsString(m))));
        assertEquals(Optional.empty(), UncommittedManifest.read(write(dir, "{\"format\":\"kexec-measured-manifest/1\",\"x\":1}")));
        assertEquals(Optional.empty(), UncommittedManifest.read(write(dir, "[1]")));
    }

    @Test
    void aDamagedManifestIsBadInputNamingFileAndKey(@TempDir Path dir) throws Exception {
        assertBad(dir, "{\"format\":", "not JSON");
        assertBad(dir, GOOD.replace("\"plannedRecords\":7", "\"plannedRecords\":\"seven\""), "plannedRecords");
        assertBad(dir, GOOD.replace("\"records\":3}", "\"records\":3,\"extra\":1}"), "extra");
        assertBad(dir, GOOD.replace("\"sha256\":\"11\",", ""), "eventLog.sha256: missing");
        assertBad(dir, GOOD.replace("\"mode\":\"pending\",", ""), "mode: missing");
        assertBad(dir, GOOD.replace("\"plannedBoundary\":\"kexec-measured-boundary=1\\nnonce=ab\\n\",", ""),
                "plannedBoundary: missing");
    }

    @Test
    void describeSaysWhatKindOfBootTheContinuedLogIs(@TempDir Path dir) throws Exception {
        assertEquals(Optional.empty(), UncommittedHandOver.describe(dir), "no sidecar");
        write(dir, "{\"format\":\"kexec-measured-manifest/1\"}");
        assertEquals(Optional.empty(), UncommittedHandOver.describe(dir), "a committed one");
        write(dir, GOOD);
        String d = UncommittedHandOver.describe(dir).orElseThrow();
        assertTrue(d.contains("never committed") && d.contains("not marked yet"), d);
        Files.writeString(dir.resolve(UncommittedHandOver.NOTE_FILE), "{}");
        d = UncommittedHandOver.describe(dir).orElseThrow();
        assertTrue(d.contains("never committed") && d.contains("ends with the uncommitted hand-over event"), d);
        write(dir, GOOD.replace("\"pending\"", "\"crash\""));
        assertTrue(UncommittedHandOver.describe(dir).orElseThrow().contains("crash kernel"));
        write(dir, GOOD.replace("\"mode\":\"pending\",", ""));
        d = UncommittedHandOver.describe(dir).orElseThrow();
        assertTrue(d.contains("cannot be read") && d.contains("mode: missing"), d);
    }

    private static void assertBad(Path dir, String json, String says) throws Exception {
        Path f = write(dir, json);
        BadInputException e = assertThrows(BadInputException.class, () -> UncommittedManifest.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains(says), e.getMessage());
    }

    private static Path write(Path dir, String json) throws Exception {
        Path f = dir.resolve(Sidecar.MANIFEST_FILE);
        Files.writeString(f, json, StandardCharsets.UTF_8);
        return f;
    }
}
