package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventType;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTML view rendered by a real browser (Debian's chromium, headless): assertions on the DOM it
 * built, for a firmware log, a log with two kexec generations (two real {@code boot --no-load} runs
 * against a swtpm) and the same log after a PCR diverged. Oracles: tpm2_eventlog (records per PCR and
 * its replay) and tpm2_pcrread (the TPM's values) decide which mark each PCR must carry; the boot
 * manifests give the boundary nonces. Screenshots go to {@code target/html-view/}.
 *
 * <p>Every log carries a hostile record (a description with {@code <script>}, an {@code <img onerror>},
 * a bidi override): the DOM must hold it as text only.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HtmlViewBrowserTest {
    static final String HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
            + " & \"quotes\" 'too'";
    /** UTF-16 text (as systemd-boot logs command lines) with a right-to-left override: "exe.png" would read "gnp.exe". */
    static final String BIDI = "initrd=\u202egnp.exe\0";
    static final List<Integer> BOUNDARY_PCRS = List.of(Pcr.BOOT_LOADER_CODE, Pcr.BOOT_LOADER_CONFIG, Pcr.KERNEL_INITRD,
            Pcr.KERNEL_BOOT, Pcr.KERNEL_CONFIG, Pcr.SYSEXTS);
    static final Path SHOTS = Path.of("target", "html-view");

    @TempDir
    static Path dir;
    static Path firmwareFile;
    static Swtpm swtpm;
    static Path state1;
    static Path state2;

    /** The RHEL 9 OVMF log (test fixture, see eventlogs/SOURCES.md) plus two hostile EV_IPL records in PCR 8. */
    @BeforeAll
    static void chain() throws Exception {
        byte[] fw = Fixtures.read("ovmf-rhel9-secureboot.bin");
        byte[] hostile = HOSTILE.getBytes(StandardCharsets.US_ASCII);
        byte[] bidi = BIDI.getBytes(StandardCharsets.UTF_16LE);
        EventLog firmware = EventLog.parse(fw).toBuilder()
                .appendMeasured(Pcr.KERNEL_CMDLINE_GRUB, EventType.EV_IPL, hostile, hostile)
                .appendMeasured(Pcr.KERNEL_CMDLINE_GRUB, EventType.EV_IPL, bidi, bidi).build();
        firmwareFile = dir.resolve("firmware.bin");
        Files.write(firmwareFile, firmware.toBytes());
    }

    static Path html(String name, String... args) throws Exception {
        ChainFixtures.Cli c = ChainFixtures.cli(0, args);
        Path f = dir.resolve(name + ".html");
        Files.writeString(f, c.out(), StandardCharsets.UTF_8);
        return f;
    }

    // ------------------------------------------------------------------ oracles

    private static final Pattern EVENT = Pattern.compile("(?m)^- EventNum: (\\d+)\\n  PCRIndex: (\\d+)\\n  EventType: (\\S+)");

    /** tpm2_eventlog: records per PCR (EV_NO_ACTION left out), in record order. */
    static Map<Integer, List<Integer>> recordsPerPcr(Path log) {
        Fixtures.Run r = Fixtures.tpm2Eventlog(log);
        assertEquals(0, r.exit(), "tpm2_eventlog " + log + ": " + r.err());
        Map<Integer, List<Integer>> m = new TreeMap<>();
        Matcher x = EVENT.matcher(r.out());
        while (x.find()) {
            if (!x.group(3).equals("EV_NO_ACTION")) {
                m.computeIfAbsent(Integer.parseInt(x.group(2)), k -> new ArrayList<>()).add(Integer.parseInt(x.group(1)));
            }
        }
        assertFalse(m.isEmpty(), "tpm2_eventlog listed no records for " + log);
        return m;
    }

    /** tpm2_eventlog's replay (sha256) of the log. */
    static Map<Integer, byte[]> replayByTpm2Eventlog(Path log) {
        Fixtures.Run r = Fixtures.tpm2Eventlog(log);
        String section = Fixtures.pcrsSection(r.out());
        assertNotNull(section, "tpm2_eventlog printed no pcrs for " + log);
        return PcrSet.parse(section, "tpm2_eventlog").values().get(HashAlg.SHA256);
    }

    /** The mark each PCR must carry: tpm2_pcrread's value against tpm2_eventlog's replay. */
    static Map<Integer, String> oracleMarks(Path log, String tcti) {
        Map<Integer, byte[]> replay = replayByTpm2Eventlog(log);
        Map<Integer, String> tpm = Tpm2Tools.pcrread(tcti, "sha256:all").get("sha256");
        Map<Integer, String> m = new TreeMap<>();
        for (int p = 0; p < 24; p++) {
            byte[] r = replay.get(p);
            String rep = r != null ? Hex.of(r) : p >= 17 && p <= 22 ? "ff".repeat(32) : "00".repeat(32);
            m.put(p, rep.equals(tpm.get(p)) ? "verified" : "diverged");
        }
        return m;
    }

    // ------------------------------------------------------------------ DOM checks

    static Map<Integer, List<Element>> lanes(Document d) {
        Map<Integer, List<Element>> m = new TreeMap<>();
        for (Element lane : d.select("main#lanes > section.lane")) {
            m.put(Integer.parseInt(lane.attr("data-pcr")), lane.select("div.ev"));
        }
        return m;
    }

    /** One lane per PCR the log extends, holding exactly that PCR's records in order. */
    static void assertLanesMatch(Document d, Map<Integer, List<Integer>> oracle) {
        Map<Integer, List<Element>> lanes = lanes(d);
        assertEquals(oracle.keySet(), lanes.keySet(), "lanes = PCRs tpm2_eventlog lists records for");
        oracle.forEach((pcr, recs) -> assertEquals(recs,
                lanes.get(pcr).stream().map(e -> Integer.parseInt(e.attr("data-record"))).toList(), "records of PCR " + pcr));
    }

    static void assertMarks(Document d, Map<Integer, String> oracle) {
        for (Element lane : d.select("section.lane")) {
            int pcr = Integer.parseInt(lane.attr("data-pcr"));
            assertEquals(oracle.get(pcr), lane.attr("data-mark"), "mark of PCR " + pcr);
            assertEquals(oracle.get(pcr), lane.selectFirst(".lane-head .mark").text(), "visible mark of PCR " + pcr);
        }
    }

    /** The hostile description is text in the DOM, nothing of it became an element; no external resource. */
    static void assertInert(Document d, Path file) throws Exception {
        assertTrue(d.select("script, img, iframe, object, embed, link, base, form").isEmpty(),
                "no active or loading element in the DOM: " + d.select("script, img, iframe, object, embed, link, base, form"));
        assertFalse(d.title().contains("pwned"), d.title());
        assertTrue(d.select(".ev .desc").stream().anyMatch(e -> e.text().contains("<script>document.title='pwned'</script>")),
                "the hostile description is shown as text");
        assertFalse(d.text().contains("\u202e"), "the bidi override is shown escaped, not applied");
        assertTrue(d.text().contains("\\u202e"), "the bidi override is visible as \\u202e");
        // the file itself: nothing that could load from elsewhere, and a policy that forbids it anyway
        Document raw = Jsoup.parse(Files.readString(file, StandardCharsets.UTF_8));
        assertTrue(raw.select("[src], [href], link, script").isEmpty(), "no src/href/link/script in the file");
        String css = raw.select("style").html();
        assertFalse(css.contains("url(") || css.contains("@import"), "no external resource in the CSS");
        Element csp = raw.selectFirst("meta[http-equiv=Content-Security-Policy]");
        assertNotNull(csp, "a Content-Security-Policy");
        assertTrue(csp.attr("content").startsWith("default-src 'none'"), csp.attr("content"));
    }

    // ------------------------------------------------------------------ tests

    @Test
    @Order(1)
    void firmwareLogAgainstAPcrFile() throws Exception {
        // the expected values: tpm2_eventlog's own replay, as a PCR file
        Fixtures.Run r = Fixtures.tpm2Eventlog(firmwareFile);
        Path pcrs = dir.resolve("firmware-pcrs.yaml");
        Files.writeString(pcrs, Fixtures.pcrsSection(r.out()));
        Path f = html("firmware", "eventlog", "show", firmwareFile.toString(), "--format", "html", "--pcrs", pcrs.toString());
        Document d = HeadlessChromium.dumpDom(f, dir);
        assertLanesMatch(d, recordsPerPcr(firmwareFile));
        for (Element lane : d.select("section.lane")) assertEquals("verified", lane.attr("data-mark"), lane.attr("data-pcr"));
        assertEquals("verified", d.selectFirst("#verification").attr("data-result"));
        assertEquals("1", d.selectFirst("#generations").attr("data-count"));
        assertTrue(d.select("main div.ev.boundary").isEmpty(), "a firmware log has no kexec boundary");
        assertTrue(d.select("main div.ev.payload").isEmpty(), "nor payload records");
        // the hostile records follow ExitBootServices: records of the running OS, in PCR 8
        List<Element> pcr8 = d.select("section.lane[data-pcr=8] div.ev");
        assertEquals(List.of("os", "os"), pcr8.subList(pcr8.size() - 2, pcr8.size()).stream().map(e -> e.attr("data-phase")).toList());
        assertEquals(2, d.select("main div.ev[data-phase=os]").size(), "only those two are the OS's");
        assertEquals(d.select("main div.ev").size() - 2, d.select("main div.ev[data-phase=firmware]").size(),
                "every other record is the firmware's");
        assertInert(d, f);
        HeadlessChromium.screenshot(f, SHOTS.resolve("firmware.png"), 1400, 1100, dir);
    }

    @Test
    @Order(2)
    void twoKexecGenerationsAgainstTheTpm() throws Exception {
        startChain();
        Path log = state2.resolve("eventlog.bin");
        Path f = dir.resolve("report.html");
        ChainFixtures.cli(0, "report", state2.toString(), "--tpm", swtpm.tcti(), "-o", f.toString());
        Document d = HeadlessChromium.dumpDom(f, dir);
        Map<Integer, List<Integer>> records = recordsPerPcr(log);
        assertLanesMatch(d, records);
        assertMarks(d, oracleMarks(log, swtpm.tcti()));
        assertEquals("verified", d.selectFirst("#verification").attr("data-result"));
        assertEquals("3", d.selectFirst("#generations").attr("data-count"));

        Map<Integer, List<Integer>> firmwareRecords = recordsPerPcr(firmwareFile);
        List<String> nonces = List.of(nonce(state1), nonce(state2));
        for (int pcr : BOUNDARY_PCRS) {
            List<Element> evs = lanes(d).get(pcr);
            List<Element> b = evs.stream().filter(e -> e.hasClass("boundary")).toList();
            assertEquals(2, b.size(), "two boundary markers in PCR " + pcr);
            assertEquals(List.of("2", "3"), b.stream().map(e -> e.attr("data-generation")).toList(), "PCR " + pcr);
            int first = evs.indexOf(b.get(0));
            int second = evs.indexOf(b.get(1));
            int fwCount = firmwareRecords.getOrDefault(pcr, List.of()).size();
            assertEquals(fwCount, first, "PCR " + pcr + ": the first boundary follows exactly the firmware log's records");
            for (Element e : evs.subList(0, first)) {
                assertTrue(List.of("firmware", "os").contains(e.attr("data-phase")), "before the boundary: " + e.attr("data-phase"));
            }
            for (Element e : evs.subList(first + 1, second)) assertEquals("payload|2", e.attr("data-phase") + "|" + e.attr("data-generation"));
            for (Element e : evs.subList(second + 1, evs.size())) assertEquals("payload|3", e.attr("data-phase") + "|" + e.attr("data-generation"));
        }
        for (Element lane : d.select("section.lane")) {
            if (!BOUNDARY_PCRS.contains(Integer.parseInt(lane.attr("data-pcr")))) {
                assertTrue(lane.select("div.ev.boundary").isEmpty(), "no boundary outside the boundary set: PCR " + lane.attr("data-pcr"));
            }
        }
        // the boundaries table carries each boot's nonce, in generation order
        assertEquals(nonces, d.select("tr.boundary-row td:nth-child(3)").eachText());
        // the manifest summary: the payload and the log's digest as recorded
        String summary = d.selectFirst("#summary").text();
        assertTrue(summary.contains("demo.efi"), summary);
        assertTrue(summary.contains("(as the manifest records)"), summary);
        assertInert(d, f);
        HeadlessChromium.screenshot(f, SHOTS.resolve("report-two-generations.png"), 1400, 1500, dir);
    }

    @Test
    @Order(3)
    void aPcrExtendedOutsideTheLogIsMarkedDiverged() throws Exception {
        startChain();
        Path log = state2.resolve("eventlog.bin");
        Tpm2Tools.run(swtpm.tcti(), "tpm2_pcrextend", Pcr.KERNEL_CONFIG + ":sha256=" + "ab".repeat(32));
        Path f = html("diverged", "eventlog", "show", log.toString(), "--format", "html", "--tpm", swtpm.tcti());
        Document d = HeadlessChromium.dumpDom(f, dir);
        Map<Integer, String> oracle = oracleMarks(log, swtpm.tcti());
        assertEquals("diverged", oracle.get(Pcr.KERNEL_CONFIG), "tpm2_pcrread and tpm2_eventlog disagree on PCR 12");
        assertMarks(d, oracle);
        assertEquals(1, d.select("section.lane[data-mark=diverged]").size(), "only PCR 12 diverged");
        Element lane = d.selectFirst("section.lane[data-pcr=12]");
        assertEquals("diverged", lane.selectFirst("span.bank[data-bank=sha256]").className().replace("bank ", ""));
        assertTrue(lane.selectFirst("p.why").text().contains(Hex.of(replayByTpm2Eventlog(log).get(Pcr.KERNEL_CONFIG))),
                "the lane shows the replayed value");
        assertEquals("failed", d.selectFirst("#verification").attr("data-result"));
        assertInert(d, f);
        HeadlessChromium.screenshot(f, SHOTS.resolve("diverged-pcr12.png"), 1400, 1500, dir);
    }

    // ------------------------------------------------------------------ the chain: firmware state, two boots

    static synchronized void startChain() throws Exception {
        if (swtpm != null) return;
        Path uki = ChainFixtures.makeUki(dir.resolve("uki"));
        swtpm = ChainFixtures.firmwareState(List.of("sha256"), firmwareFile);
        state1 = dir.resolve("state1");
        ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(), "--firmware-log",
                firmwareFile.toString(), "--state-dir", state1.toString(), "--no-load");
        state2 = dir.resolve("state2");
        ChainFixtures.cli(0, "boot", uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(), "--firmware-log",
                state1.resolve("eventlog.bin").toString(), "--state-dir", state2.toString(), "--no-load");
    }

    @org.junit.jupiter.api.AfterAll
    static void stop() {
        if (swtpm != null) swtpm.close();
    }

    static String nonce(Path state) throws Exception {
        JsonNode m = Json.MAPPER.readTree(state.resolve("initrd-extra/.extra/kexec-measured/manifest.json").toFile());
        Matcher x = Pattern.compile("(?m)^nonce=([0-9a-f]{32})$").matcher(m.path("boundary").asText());
        assertTrue(x.find(), "manifest boundary has a nonce: " + m.path("boundary"));
        return x.group(1);
    }
}
