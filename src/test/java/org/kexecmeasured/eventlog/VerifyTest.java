package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.cli.Main;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code eventlog verify} against PCR files from tpm2_eventlog, from our replay, from go-attestation. */
class VerifyTest {
    private Path dir;

    @BeforeEach
    void tmp() throws IOException {
        dir = Files.createTempDirectory("eventlog-verify");
    }

    @AfterEach
    void clean() throws IOException {
        try (var s = Files.list(dir)) {
            for (Path f : s.toList()) Files.delete(f);
        }
        Files.delete(dir);
    }

    record Cli(int rc, String out, String err) {
    }

    static Cli cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        return new Cli(rc, out.toString(), err.toString());
    }

    private Path write(String name, String text) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    @Test
    void tpm2EventlogPcrsVerify() throws IOException {
        int ok = 0;
        int localityLogs = 0;
        for (Path p : Fixtures.goodLogs()) {
            Fixtures.Run run = Fixtures.tpm2Eventlog(p);
            String section = run.exit() == 0 ? Fixtures.pcrsSection(run.out()) : null;
            if (section == null || section.strip().equals("pcrs:")) continue;
            Path f = write(p.getFileName() + ".yaml", section);
            Cli c = cli("eventlog", "verify", p.toString(), "--pcrs", f.toString());
            EventLog log = EventLog.parse(Fixtures.read(p));
            if (Replay.startupLocality(log) == 0) {
                assertEquals(0, c.rc, p + ": " + c.out + c.err);
                assertTrue(c.out.startsWith("ok: "), c.out);
                ok++;
            } else {
                // tpm2_eventlog 5.4 extends the StartupLocality record into PCR 0 (see ReplayOracleTest)
                if (ReplayOracleTest.tpm2ToolsVersion().startsWith("5.4")) assertEquals(Main.EXIT_CHECK_FAILED, c.rc, c.out);
                assertTrue(c.out.lines().filter(l -> l.startsWith("MISMATCH")).allMatch(l -> l.contains(" PCR 0:")), c.out);
                localityLogs++;
            }
        }
        assertTrue(ok >= 6, "verified " + ok);
        assertEquals(2, localityLogs);
    }

    @Test
    void ourReplayOutputVerifiesInBothFormats() throws IOException {
        Path log = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        Cli yaml = cli("eventlog", "replay", log.toString(), "--all");
        Cli json = cli("eventlog", "replay", log.toString(), "--json");
        assertEquals(0, yaml.rc);
        assertEquals(0, json.rc);
        assertEquals(0, cli("eventlog", "verify", log.toString(), "--pcrs", write("r.yaml", yaml.out).toString()).rc);
        Cli v = cli("eventlog", "verify", log.toString(), "--pcrs", write("r.json", json.out).toString(), "--json");
        assertEquals(0, v.rc, v.out + v.err);
        assertTrue(v.out.contains("\"ok\" : true"), v.out);
        // the layouts `kexec-measured tpm pcrs` prints: indented text, and JSON with "tcti" and "banks"
        String indented = yaml.out.lines().map(l -> "  " + l.replace("  ", "    ")).reduce("", (a, b) -> a + b + "\n");
        assertEquals(0, cli("eventlog", "verify", log.toString(), "--pcrs", write("t.txt", indented).toString()).rc, indented);
        String tpmJson = "{\"tcti\": \"swtpm:port=1\", \"banks\": " + json.out + "}";
        assertEquals(0, cli("eventlog", "verify", log.toString(), "--pcrs", write("t.json", tpmJson).toString()).rc, tpmJson);
        Cli banks = cli("eventlog", "replay", log.toString(), "--bank", "sha384");
        assertTrue(banks.out.startsWith("sha384:") && !banks.out.contains("sha256"), banks.out);
    }

    @Test
    void alteredPcrIsReportedWithTheEventsFeedingIt() throws IOException {
        Path log = Fixtures.eventlogs().resolve("ovmf-rhel9-secureboot.bin");
        EventLog parsed = EventLog.parse(Fixtures.read(log));
        String pcr7 = org.kexecmeasured.util.Hex.of(Replay.replay(parsed).get(org.kexecmeasured.util.HashAlg.SHA256)[7]);
        String altered = (pcr7.charAt(0) == '0' ? "1" : "0") + pcr7.substring(1);
        Path f = write("p.json", "{\"sha256\": {\"7\": \"" + altered + "\", \"4\": \""
                + org.kexecmeasured.util.Hex.of(Replay.replay(parsed).get(org.kexecmeasured.util.HashAlg.SHA256)[4]) + "\"}}");
        Cli c = cli("eventlog", "verify", log.toString(), "--pcrs", f.toString());
        assertEquals(Main.EXIT_CHECK_FAILED, c.rc);
        assertTrue(c.out.startsWith("MISMATCH sha256 PCR 7: expected " + altered), c.out);
        assertFalse(c.out.contains("PCR 4:"), c.out);
        long feeding = parsed.events().stream().filter(e -> e.pcrIndex() == 7 && !e.isNoAction()).count();
        assertTrue(feeding > 5);
        assertEquals(feeding, c.out.lines().filter(l -> l.startsWith("  #")).count(), c.out);
        assertEquals(1, c.err.lines().count(), c.err);
        assertTrue(c.err.contains("1 PCR value(s) do not match"), c.err);
    }

    @Test
    void missingEbsEventsAreNamedButNotFixed() throws IOException {
        // PCR 5 (SHA-1) of this machine as go-attestation's TestEBSVerifyWorkaround states it
        Path f = write("ebs.json", "{\"sha1\": {\"5\": \"31245808d6d35849bc394f6343f2b3ff908ed5e3\"}}");
        Cli c = cli("eventlog", "verify", Fixtures.eventlogs().resolve("quirk-ebs-events-missing-sha1.bin").toString(),
                "--pcrs", f.toString());
        assertEquals(Main.EXIT_CHECK_FAILED, c.rc, c.out + c.err);
        assertTrue(c.out.startsWith("MISMATCH sha1 PCR 5"), c.out);
        assertTrue(c.out.contains("quirk " + Quirks.EBS_EVENTS_MISSING), c.out);
    }

    @Test
    void badPcrFilesAreBadInput() throws IOException {
        String log = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString();
        for (String text : new String[]{"sha256:\n  0 : 0x1234\n", "{\"sha256\": {\"99\": \"00\"}}", "just words",
                "{\"md5\": {\"0\": \"00\"}}", "sha256: [1, 2]", "{\"sha256\": {\"0\": \"zz\"}}", "- - - ]"}) {
            Cli c = cli("eventlog", "verify", log, "--pcrs", write("bad.yaml", text).toString());
            assertEquals(Main.EXIT_BAD_INPUT, c.rc, text + " → " + c.out + c.err);
            assertEquals(1, c.err.lines().count(), c.err);
            assertFalse(c.err.contains("\tat "), c.err);
        }
        Cli none = cli("eventlog", "verify", log, "--pcrs", write("other.json", "{\"sha384\": {\"0\": \"" + "00".repeat(48) + "\"}}").toString());
        assertEquals(Main.EXIT_CHECK_FAILED, none.rc);
        assertTrue(none.err.contains("nothing verified"), none.err);
        assertEquals(Main.EXIT_BAD_INPUT, cli("eventlog", "verify", log).rc, "--pcrs is required");
    }
}
