package org.kexecmeasured.eventlog.export;

import org.kexecmeasured.eventlog.ChainSegments;
import org.kexecmeasured.eventlog.Digest;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.LogFormat;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Verification;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The measurement chain as one self-contained HTML page: per PCR a lane of its records in extend
 * order, coloured by who extended them ({@link ChainSegments}: firmware, a running OS, each kexec
 * boundary with the generation it starts, the payload after it), each record's type, description and
 * digests shown on hover or keyboard focus; each PCR marked verified / diverged / unverifiable when
 * expected values (a TPM or a PCR file) were given; a summary of a boot's manifest and the policy's
 * verdict per secret when a caller has them.
 *
 * <p>Safe to open anywhere: no script at all, no external resource (a Content-Security-Policy
 * forbids both), every string from the log or a manifest escaped ({@link #esc}) — event data is
 * written by whoever controlled the boot chain.
 */
public final class HtmlChain {

    /** A PCR's state against the expected values: the worst over the banks compared. */
    public enum Mark {
        VERIFIED, DIVERGED, UNVERIFIABLE, UNCHECKED;

        String css() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The policy's verdict for one sealed secret (from a manifest or a prediction): reachable,
     * unreachable or unknown after the boot, why, what the policy asked ({@code intent}, may be null)
     * and whether the verdict meets it ({@code meetsIntent}, null when not known).
     */
    public record Verdict(String secret, String verdict, String reason, String intent, Boolean meetsIntent) {
        public Verdict(String secret, String verdict, String reason) {
            this(secret, verdict, reason, null, null);
        }
    }

    /**
     * What to draw besides the log.
     *
     * @param title           page title
     * @param logSource       where the log came from (a path), shown in the header
     * @param firmwareRecords how many leading records the firmware wrote (from a manifest), or -1
     * @param expected        expected PCR values, or null: no verification marks
     * @param expectedSource  where they came from ("TPM swtpm:…", "file pcrs.yaml")
     * @param summary         key → value lines about the boot (manifest), shown as a table; may be empty
     * @param verdicts        the policy's verdict per secret; may be empty
     */
    public record Options(String title, String logSource, int firmwareRecords, PcrSet expected, String expectedSource,
                          Map<String, String> summary, List<Verdict> verdicts) {
        public Options {
            summary = summary == null ? Map.of() : new LinkedHashMap<>(summary);
            verdicts = verdicts == null ? List.of() : List.copyOf(verdicts);
        }

        public static Options of(String title, String logSource) {
            return new Options(title, logSource, -1, null, null, Map.of(), List.of());
        }

        public Options withExpected(PcrSet pcrs, String source) {
            return new Options(title, logSource, firmwareRecords, pcrs, source, summary, verdicts);
        }
    }

    private HtmlChain() {
    }

    /** Per PCR, per bank compared: the mark. PCRs of the log or of the expected set; empty when nothing is expected. */
    public static Map<Integer, Map<HashAlg, Mark>> marks(EventLog log, PcrSet expected, Verification.Result v) {
        Map<Integer, Map<HashAlg, Mark>> m = new TreeMap<>();
        if (expected == null) return m;
        for (Map.Entry<HashAlg, Map<Integer, byte[]>> b : expected.values().entrySet()) {
            if (!log.banks().contains(b.getKey())) continue;
            for (int pcr : b.getValue().keySet()) m.computeIfAbsent(pcr, k -> new LinkedHashMap<>()).put(b.getKey(), Mark.VERIFIED);
        }
        for (Verification.Mismatch x : v.mismatches()) {
            m.computeIfAbsent(x.pcr(), k -> new LinkedHashMap<>())
                    .put(x.bank(), x.unverifiable() ? Mark.UNVERIFIABLE : Mark.DIVERGED);
        }
        return m;
    }

    static Mark worst(Map<HashAlg, Mark> banks) {
        if (banks == null || banks.isEmpty()) return Mark.UNCHECKED;
        if (banks.containsValue(Mark.DIVERGED)) return Mark.DIVERGED;
        if (banks.containsValue(Mark.UNVERIFIABLE)) return Mark.UNVERIFIABLE;
        return Mark.VERIFIED;
    }

    public static String render(EventLog log, Options o) {
        ChainSegments seg = ChainSegments.of(log, o.firmwareRecords());
        Verification.Result v = o.expected() == null ? null : Verification.verify(log, o.expected());
        Map<Integer, Map<HashAlg, Mark>> marks = o.expected() == null ? Map.of() : marks(log, o.expected(), v);

        // lanes: every PCR a record extends, and every PCR the expected values disagree about
        Map<Long, List<Integer>> lanes = new TreeMap<>();
        List<Event> events = log.events();
        for (int i = 0; i < events.size(); i++) {
            if (!events.get(i).isNoAction()) lanes.computeIfAbsent(events.get(i).pcrIndex(), k -> new ArrayList<>()).add(i);
        }
        for (Map.Entry<Integer, Map<HashAlg, Mark>> e : marks.entrySet()) {
            if (worst(e.getValue()) != Mark.VERIFIED) lanes.computeIfAbsent((long) e.getKey(), k -> new ArrayList<>());
        }

        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<meta name=\"generator\" content=\"kexec-measured\">\n")
                .append("<title>").append(esc(o.title())).append("</title>\n<style>").append(CSS).append("</style>\n</head>\n<body>\n");
        header(h, log, o, seg, v, marks, lanes.size());
        summary(h, o);
        verdicts(h, o.verdicts());
        boundaries(h, seg);
        h.append("<main id=\"lanes\">\n");
        for (Map.Entry<Long, List<Integer>> lane : lanes.entrySet()) {
            lane(h, log, seg, lane.getKey(), lane.getValue(),
                    lane.getKey() <= Integer.MAX_VALUE ? marks.get(lane.getKey().intValue()) : null, v);
        }
        h.append("</main>\n");
        legend(h);
        h.append("</body>\n</html>\n");
        return h.toString();
    }

    private static void header(StringBuilder h, EventLog log, Options o, ChainSegments seg, Verification.Result v,
                               Map<Integer, Map<HashAlg, Mark>> marks, int laneCount) {
        h.append("<header>\n<h1>").append(esc(o.title())).append("</h1>\n<p class=\"meta\">");
        h.append("log <code>").append(esc(o.logSource())).append("</code> · ")
                .append(log.format() == LogFormat.SHA1_LEGACY ? "SHA-1 format" : "crypto-agile").append(" · banks ")
                .append(esc(String.join(", ", log.banks().stream().map(a -> a.tpmName).toList())))
                .append(" · ").append(log.events().size()).append(" records · ").append(laneCount).append(" PCRs · ")
                .append("<span id=\"generations\" data-count=\"").append(seg.lastGeneration()).append("\">")
                .append(seg.lastGeneration() == 1 ? "1 generation (firmware boot, no kexec boundary)"
                        : seg.lastGeneration() + " generations (" + seg.boundaries().size() + " kexec boundar"
                        + (seg.boundaries().size() == 1 ? "y" : "ies") + ")")
                .append("</span></p>\n");
        if (v == null) {
            h.append("<p id=\"verification\" class=\"mark unchecked\" data-result=\"unchecked\">not verified: "
                    + "no TPM or PCR file given (--tpm, --pcrs)</p>\n");
        } else {
            long bad = marks.values().stream().filter(m -> worst(m) != Mark.VERIFIED).count();
            String result = v.checked() == 0 ? "unchecked" : bad == 0 ? "verified" : "failed";
            h.append("<p id=\"verification\" class=\"mark ").append(bad == 0 && v.checked() > 0 ? "verified" : "diverged")
                    .append("\" data-result=\"").append(result).append("\">against ").append(esc(o.expectedSource()))
                    .append(": ").append(v.checked()).append(" PCR value(s) compared, ").append(bad)
                    .append(" PCR(s) diverged or unverifiable</p>\n");
            for (String n : v.notes()) h.append("<p class=\"note\">").append(esc(n)).append("</p>\n");
        }
        h.append("</header>\n");
    }

    private static void summary(StringBuilder h, Options o) {
        if (o.summary().isEmpty()) return;
        h.append("<section id=\"summary\"><h2>Boot</h2><table>\n");
        for (Map.Entry<String, String> e : o.summary().entrySet()) {
            h.append("<tr><th>").append(esc(e.getKey())).append("</th><td>").append(esc(e.getValue())).append("</td></tr>\n");
        }
        h.append("</table></section>\n");
    }

    private static void verdicts(StringBuilder h, List<Verdict> verdicts) {
        if (verdicts.isEmpty()) return;
        h.append("<section id=\"verdicts\"><h2>Sealed secrets after this boot</h2><table>\n")
                .append("<tr><th>secret</th><th>verdict</th><th>policy asks</th><th>reason</th></tr>\n");
        for (Verdict x : verdicts) {
            String meets = x.meetsIntent() == null ? "unknown" : x.meetsIntent() ? "yes" : "no";
            h.append("<tr class=\"verdict\" data-verdict=\"").append(esc(cssWord(x.verdict()))).append("\" data-meets-intent=\"")
                    .append(meets).append("\"><td>").append(esc(x.secret())).append("</td><td class=\"v-")
                    .append(esc(cssWord(x.verdict()))).append("\">").append(esc(x.verdict())).append("</td><td class=\"meets-")
                    .append(meets).append("\">").append(x.intent() == null ? "" : esc(x.intent()))
                    .append(x.meetsIntent() == null ? "" : x.meetsIntent() ? " (met)" : " (NOT met)")
                    .append("</td><td>").append(esc(x.reason())).append("</td></tr>\n");
        }
        h.append("</table></section>\n");
    }

    private static void boundaries(StringBuilder h, ChainSegments seg) {
        if (seg.boundaries().isEmpty()) return;
        h.append("<section id=\"boundaries\"><h2>kexec boundaries</h2><table>\n")
                .append("<tr><th>generation</th><th>time</th><th>nonce</th><th>payload (Authenticode SHA-256)</th>"
                        + "<th>policy</th><th>PCRs</th></tr>\n");
        for (ChainSegments.Boundary b : seg.boundaries()) {
            h.append("<tr class=\"boundary-row\" data-generation=\"").append(b.generation()).append("\"><td>")
                    .append(b.generation()).append("</td>");
            for (String k : List.of("time", "nonce", "payload", "policy", "pcrs")) {
                h.append("<td><code>").append(esc(b.fields().getOrDefault(k, "?"))).append("</code></td>");
            }
            h.append("</tr>\n");
        }
        h.append("</table></section>\n");
    }

    private static void lane(StringBuilder h, EventLog log, ChainSegments seg, long pcr, List<Integer> positions,
                             Map<HashAlg, Mark> banks, Verification.Result v) {
        Mark mark = worst(banks);
        String pcrText = pcr == 0xffffffffL ? "-1" : Long.toString(pcr);
        h.append("<section class=\"lane\" data-pcr=\"").append(pcrText).append("\" data-mark=\"").append(mark.css())
                .append("\">\n<div class=\"lane-head\"><span class=\"pcr\">PCR ").append(pcrText).append("</span>")
                .append("<span class=\"mark ").append(mark.css()).append("\">").append(mark.css()).append("</span>");
        if (banks != null) {
            for (Map.Entry<HashAlg, Mark> b : banks.entrySet()) {
                h.append("<span class=\"bank ").append(b.getValue().css()).append("\" data-bank=\"").append(b.getKey().tpmName)
                        .append("\">").append(b.getKey().tpmName).append(' ').append(b.getValue().css()).append("</span>");
            }
        }
        h.append("</div>\n<div class=\"events\">\n");
        if (positions.isEmpty()) h.append("<p class=\"empty\">no record of the log extends this PCR</p>\n");
        ChainSegments.Place prev = null;
        for (int pos : positions) {
            Event e = log.events().get(pos);
            ChainSegments.Place p = seg.place(pos);
            if (prev == null || p.phase() != prev.phase() || p.generation() != prev.generation()) {
                if (p.phase() != ChainSegments.Phase.BOUNDARY) {
                    h.append("<span class=\"seg\" data-phase=\"").append(phase(p)).append("\">").append(segLabel(p)).append("</span>\n");
                }
            }
            event(h, e, p);
            prev = p;
        }
        h.append("</div>\n");
        if (v != null && pcr <= Integer.MAX_VALUE) {
            for (Verification.Mismatch m : v.mismatches()) {
                if (m.pcr() != pcr) continue;
                h.append("<p class=\"why\">").append(esc(m.bank().tpmName)).append(": expected <code>")
                        .append(Hex.of(m.expected())).append("</code>, the log replays to <code>").append(Hex.of(m.replayed()))
                        .append("</code>").append(m.explanation() != null ? " — " + esc(m.explanation()) : "").append("</p>\n");
            }
        }
        h.append("</section>\n");
    }

    private static void event(StringBuilder h, Event e, ChainSegments.Place p) {
        boolean boundary = p.phase() == ChainSegments.Phase.BOUNDARY;
        String type = e.eventTypeName();
        h.append("<div class=\"ev ").append(phase(p)).append(boundary ? " boundary" : "").append("\" tabindex=\"0\" data-record=\"")
                .append(e.index()).append("\" data-type=\"").append(esc(type)).append("\" data-phase=\"").append(phase(p))
                .append("\" data-generation=\"").append(p.generation()).append("\">");
        h.append("<span class=\"label\">")
                .append(boundary ? "kexec → generation " + p.generation() : esc(type.startsWith("EV_") ? type.substring(3) : type))
                .append("</span>");
        if (!boundary) h.append("<small>").append(esc(shortText(e.decoded().summary()))).append("</small>");
        h.append("<div class=\"tip\"><div class=\"t-head\">#").append(e.index()).append(' ').append(esc(type))
                .append(" · PCR ").append(e.pcrIndex()).append(" · ").append(esc(segLabel(p))).append("</div>")
                .append("<div class=\"desc\">").append(esc(e.decoded().summary())).append("</div><table class=\"digests\">");
        for (Digest d : e.digestList()) {
            h.append("<tr><th>").append(esc(d.algName())).append("</th><td><code>").append(Hex.of(d.value())).append("</code></td></tr>");
        }
        h.append("</table></div></div>\n");
    }

    /** The start of a description, for the record's box (the whole text is in the tip). */
    static String shortText(String summary) {
        String t = summary.strip();
        int cut = 26;
        if (t.length() <= cut) return t;
        int end = Character.isHighSurrogate(t.charAt(cut - 1)) ? cut - 1 : cut;
        return t.substring(0, end) + "…";
    }

    private static String phase(ChainSegments.Place p) {
        return p.phase().name().toLowerCase(Locale.ROOT);
    }

    private static String segLabel(ChainSegments.Place p) {
        return switch (p.phase()) {
            case FIRMWARE -> "firmware";
            case OS -> "OS of generation " + p.generation();
            case BOUNDARY -> "kexec boundary, generation " + p.generation();
            case PAYLOAD -> "payload, generation " + p.generation();
        };
    }

    private static void legend(StringBuilder h) {
        h.append("<footer><span class=\"ev firmware\">firmware</span> <span class=\"ev os\">running OS</span> ")
                .append("<span class=\"ev boundary\">kexec boundary</span> <span class=\"ev payload\">payload (emulated)</span> · ")
                .append("<span class=\"mark verified\">verified</span> <span class=\"mark diverged\">diverged</span> ")
                .append("<span class=\"mark unverifiable\">unverifiable</span> <span class=\"mark unchecked\">unchecked</span>")
                .append(" · hover or focus a record for its description and digests · written by kexec-measured</footer>\n");
    }

    private static String cssWord(String s) {
        return s == null ? "" : s.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
    }

    /**
     * HTML-escapes text for element content and double-quoted attributes. Controls, lone surrogates
     * and bidirectional overrides (which could make a description read as something else) become
     * visible {@code \\uXXXX} escapes.
     */
    public static String esc(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> {
                    boolean surrogateOk = Character.isHighSurrogate(c) && i + 1 < s.length()
                            && Character.isLowSurrogate(s.charAt(i + 1));
                    if (surrogateOk) {
                        b.append(c).append(s.charAt(++i));
                    } else if ((c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c < 0xa0) || Character.isSurrogate(c)
                            || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f
                            || c == 0xfffe || c == 0xffff) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }

    private static final String CSS = """
            :root{--fw:#dbe8f7;--os:#e6e1f5;--bd:#ffcf70;--pl:#d5f0dc;--ok:#1a7f37;--bad:#c62828;--unv:#b26a00;--un:#6b7280}
            *{box-sizing:border-box}
            body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#1f2328;background:#fff}
            h1{font-size:1.4em;margin:.8em 0 .2em}h2{font-size:1.1em;margin:1em 0 .3em}
            code{font:12px ui-monospace,monospace;word-break:break-all}
            .meta,.note{color:#444;margin:.2em 0}
            table{border-collapse:collapse}th,td{text-align:left;padding:2px 8px;vertical-align:top;border-bottom:1px solid #eee}
            .mark{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-weight:600;margin-left:.5em}
            .mark.verified{background:var(--ok)}.mark.diverged{background:var(--bad)}
            .mark.unverifiable{background:var(--unv)}.mark.unchecked{background:var(--un)}
            p.mark{display:block;margin:.4em 0;padding:.2em .6em}
            .bank{font-size:11px;margin-left:.5em;padding:0 .4em;border:1px solid currentColor;border-radius:3px}
            .bank.verified{color:var(--ok)}.bank.diverged{color:var(--bad)}.bank.unverifiable{color:var(--unv)}
            .lane{border-top:1px solid #ddd;padding:.4em 0}
            .lane[data-mark=diverged]{background:#fff5f5}.lane[data-mark=unverifiable]{background:#fffaf0}
            .lane-head{margin-bottom:.3em}.pcr{font-weight:700;display:inline-block;min-width:4em}
            .events{display:flex;flex-wrap:wrap;gap:4px;align-items:center}
            .seg{font-size:11px;color:#555;padding:0 .3em;border-left:3px solid #999;margin-left:.4em}
            .seg[data-phase=os]{border-color:#7e57c2}.seg[data-phase=payload]{border-color:#2e7d32}
            .ev{position:relative;display:inline-block;padding:2px 6px;border-radius:4px;font-size:12px;cursor:default;
              border:1px solid rgba(0,0,0,.15)}
            .ev.firmware{background:var(--fw)}.ev.os{background:var(--os)}.ev.payload{background:var(--pl)}
            .ev.boundary{background:var(--bd);font-weight:700;border:2px solid #b26a00}
            .ev small{display:block;font-size:10px;color:#555;max-width:16em;overflow:hidden;white-space:nowrap}
            .ev .tip{display:none;position:absolute;z-index:10;left:0;top:100%;margin-top:4px;min-width:28em;max-width:60em;
              background:#fff;border:1px solid #888;box-shadow:0 2px 8px rgba(0,0,0,.25);padding:6px;font-weight:400;
              white-space:normal}
            .ev:hover .tip,.ev:focus .tip{display:block}
            .t-head{font-weight:700}.desc{margin:.3em 0;white-space:pre-wrap;word-break:break-word}
            .empty,.why{color:#555;font-size:12px;margin:.2em 0}
            #summary td{white-space:pre-wrap;word-break:break-word}
            .v-reachable{color:var(--ok);font-weight:700}.v-unreachable{color:var(--bad);font-weight:700}
            .meets-no{color:var(--bad);font-weight:700}
            footer{margin-top:1.5em;color:#555;font-size:12px}footer .ev{cursor:default}
            """;
}
