package org.kexecmeasured.cli;

import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code report} on directories that are not (quite) a boot's state: one line, exit 2, or a page that says what is off. */
class ReportCommandTest {

    static void oneLineError(ChainFixtures.Cli c, String expected) {
        assertEquals(2, c.rc(), c.out() + c.err());
        assertEquals(1, c.err().lines().count(), c.err());
        assertTrue(c.err().contains(expected), c.err());
    }

    @Test
    void badInputIsOneLineAndExitTwo(@TempDir Path dir) throws Exception {
        oneLineError(ChainFixtures.cli("report", dir.resolve("nope").toString()), "no such directory");
        oneLineError(ChainFixtures.cli("report", dir.toString()), "no event log");
        Files.write(dir.resolve("eventlog.bin"), new byte[]{1, 2, 3});
        oneLineError(ChainFixtures.cli("report", dir.toString()), dir.resolve("eventlog.bin").toString());
        Files.write(dir.resolve("eventlog.bin"), EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build().toBytes());
        Files.writeString(dir.resolve("manifest.json"), "{\"format\": ");
        oneLineError(ChainFixtures.cli("report", dir.toString()), dir.resolve("manifest.json") + ": not a manifest");
        Files.writeString(dir.resolve("manifest.json"), "[1, 2]");
        oneLineError(ChainFixtures.cli("report", dir.toString()), "not a JSON object");
        oneLineError(ChainFixtures.cli("eventlog", "show", dir.resolve("eventlog.bin").toString(), "--pcrs", "x.yaml"),
                "--format html");
    }

    @Test
    void theManifestsVerdictsAreOneRowPerSecret(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("eventlog.bin"), EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build().toBytes());
        Files.writeString(dir.resolve("manifest.json"), """
                {"format": "kexec-measured-manifest/1", "verdicts": [
                  {"name": "root-luks", "verdict": "UNREACHABLE", "intent": "REACHABLE", "meetsIntent": false,
                   "reason": "PCR 11 sha256 predicted 11… ≠ sealed 22…: the kexec boundary changes PCR 11"},
                  {"name": "<script>x</script>", "verdict": "REACHABLE", "intent": "ANY", "meetsIntent": true, "reason": "signed"}]}
                """);
        Path out = dir.resolve("r.html");
        ChainFixtures.cli(0, "report", dir.toString(), "-o", out.toString());
        Document d = Jsoup.parse(Files.readString(out));
        org.jsoup.select.Elements rows = d.select("#verdicts tr.verdict");
        assertEquals(2, rows.size());
        assertEquals(List.of("unreachable", "reachable"), rows.eachAttr("data-verdict"));
        assertEquals(List.of("no", "yes"), rows.eachAttr("data-meets-intent"));
        assertEquals("root-luks", rows.get(0).child(0).text());
        assertTrue(rows.get(0).child(3).text().contains("the kexec boundary changes PCR 11"));
        assertEquals("<script>x</script>", rows.get(1).child(0).text());
        assertTrue(d.select("script").isEmpty());
    }

    @Test
    void aLogThatIsNotTheOneTheManifestRecordsIsSaidSo(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("eventlog.bin"), EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build().toBytes());
        Files.writeString(dir.resolve("manifest.json"), "{\"format\": \"kexec-measured-manifest/1\", \"eventLog\": {\"sha256\": \""
                + "00".repeat(32) + "\"}, \"payload\": {\"name\": \"<b>x</b>\"}}");
        Path out = dir.resolve("r.html");
        ChainFixtures.cli(0, "report", dir.toString(), "-o", out.toString());
        Document d = Jsoup.parse(Files.readString(out));
        String summary = d.selectFirst("#summary").text();
        assertTrue(summary.contains("DIFFERS from the manifest's " + "00".repeat(32)), summary);
        assertTrue(summary.contains("<b>x</b>"), "the payload name is text: " + summary);
        assertTrue(d.select("#summary b").isEmpty());
    }
}
