package org.kexecmeasured.eventlog.export;

import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.ChainSegments;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventType;
import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.boot.BoundaryEvent;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTML view without a browser: jsoup (an HTML5 parser nobody here wrote) reads the page back.
 * Strings from the log must come back as the same text, never as markup; generations follow the
 * boundary records. (The browser-rendered checks are in cli.HtmlViewBrowserTest.)
 */
class HtmlChainTest {
    static final List<HashAlg> BANKS = List.of(HashAlg.SHA256);

    static byte[] boundary(int nonceByte) {
        byte[] nonce = new byte[16];
        java.util.Arrays.fill(nonce, (byte) nonceByte);
        return new BoundaryEvent("test", Instant.EPOCH, nonce, new byte[32], "builtin-default-1",
                new TreeSet<>(List.of(Pcr.BOOT_LOADER_CODE, Pcr.KERNEL_BOOT))).data();
    }

    static EventLog.Builder appendBoundary(EventLog.Builder b, byte[] data) {
        byte[] ev = BoundaryEvent.taggedEvent(BoundaryEvent.TAG_ID, data);
        b.appendMeasured(Pcr.BOOT_LOADER_CODE, EventType.EV_EVENT_TAG, data, ev);
        return b.appendMeasured(Pcr.KERNEL_BOOT, EventType.EV_EVENT_TAG, data, ev);
    }

    static EventLog.Builder action(EventLog.Builder b, int pcr, String text) {
        byte[] t = text.getBytes(StandardCharsets.US_ASCII);
        return b.appendMeasured(pcr, EventType.EV_EFI_ACTION, t, t);
    }

    @Test
    void everyPrintableAsciiStringComesBackAsTheSameText() {
        Random r = new Random(1);
        String specials = "<>&\"'/=`;:!-{}()[]\\ ";
        for (int round = 0; round < 200; round++) {
            StringBuilder s = new StringBuilder();
            int n = 1 + r.nextInt(60);
            for (int i = 0; i < n; i++) {
                s.append(r.nextInt(3) == 0 ? specials.charAt(r.nextInt(specials.length())) : (char) (0x21 + r.nextInt(0x5e)));
            }
            String text = s.toString().strip();
            if (text.isEmpty()) continue;
            EventLog log = action(EventLog.newCryptoAgile(BANKS), Pcr.BOOT_LOADER_CODE, text).build();
            Document d = Jsoup.parse(HtmlChain.render(log, HtmlChain.Options.of(text, text)));
            Element ev = d.selectFirst("section.lane[data-pcr=4] div.ev");
            assertEquals("\"" + text + "\"", ev.selectFirst(".desc").wholeText(), "round " + round);
            assertEquals(text, d.selectFirst("title").wholeText());
            assertEquals(text, d.selectFirst("header code").wholeText());
            assertTrue(d.select("script, img, iframe, a, link, [onerror], [onload], [src], [href]").isEmpty(), text);
        }
    }

    @Test
    void controlsAndBidiOverridesAreShownEscaped() {
        String raw = "a\u202eb\u0007c\u2066d\u200fe";
        String esc = HtmlChain.esc(raw);
        assertEquals("a\\u202eb\\u0007c\\u2066d\\u200fe", esc);
        assertEquals("\\ud800x", HtmlChain.esc("\ud800x"), "a lone surrogate");
        assertEquals("\ud83d\ude00", HtmlChain.esc("\ud83d\ude00"), "a surrogate pair stays");
    }

    @Test
    void boundariesStartGenerationsAndSplitEachLane() {
        EventLog.Builder b = EventLog.newCryptoAgile(BANKS);
        action(b, Pcr.BOOT_LOADER_CODE, "Calling EFI Application from Boot Option");
        action(b, Pcr.BOOT_LOADER_CONFIG, "Exit Boot Services Invocation");
        action(b, Pcr.BOOT_LOADER_CONFIG, "Exit Boot Services Returned with Success");
        action(b, Pcr.KERNEL_BOOT, "an OS record");
        appendBoundary(b, boundary(1));
        action(b, Pcr.BOOT_LOADER_CODE, "payload 2");
        appendBoundary(b, boundary(2));
        action(b, Pcr.KERNEL_BOOT, "payload 3");
        EventLog log = b.build();

        ChainSegments seg = ChainSegments.of(log, -1);
        assertEquals(3, seg.lastGeneration());
        assertEquals(List.of("01".repeat(16), "02".repeat(16)), seg.boundaries().stream().map(ChainSegments.Boundary::nonce).toList());

        // the replay as expected values: every PCR verified; then one value changed: that PCR diverged
        PcrSet same = PcrSet.of(Replay.replay(log));
        Document ok = Jsoup.parse(HtmlChain.render(log, HtmlChain.Options.of("t", "t").withExpected(same, "replay")));
        assertEquals(List.of("4", "5", "11"), ok.select("section.lane").eachAttr("data-pcr"));
        assertTrue(ok.select("section.lane").stream().allMatch(l -> l.attr("data-mark").equals("verified")));
        assertEquals(List.of("firmware", "boundary|2", "payload|2", "boundary|3"),
                ok.select("section.lane[data-pcr=4] div.ev").stream().map(HtmlChainTest::where).toList());
        assertEquals(List.of("os|1", "boundary|2", "boundary|3", "payload|3"),
                ok.select("section.lane[data-pcr=11] div.ev").stream().map(HtmlChainTest::where).toList());

        Map<HashAlg, Map<Integer, byte[]>> changed = new java.util.LinkedHashMap<>();
        Map<Integer, byte[]> pcrs = new java.util.TreeMap<>(same.values().get(HashAlg.SHA256));
        pcrs.put(Pcr.KERNEL_BOOT, new byte[32]);
        changed.put(HashAlg.SHA256, pcrs);
        Document bad = Jsoup.parse(HtmlChain.render(log, HtmlChain.Options.of("t", "t").withExpected(new PcrSet(changed), "x")));
        assertEquals(List.of("11"), bad.select("section.lane[data-mark=diverged]").eachAttr("data-pcr"));
        assertEquals("failed", bad.selectFirst("#verification").attr("data-result"));
    }

    static String where(Element e) {
        return e.attr("data-phase") + (e.attr("data-phase").equals("firmware") ? "" : "|" + e.attr("data-generation"));
    }
}
