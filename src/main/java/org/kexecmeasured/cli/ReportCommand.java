package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.export.HtmlChain;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code report}: a boot's state as one HTML page — the continued event log drawn as lanes, the
 * manifest's summary (payload, policy, boundary, PCRs that diverged before the boot, the command line
 * handed over), the policy's verdict per secret when the manifest carries them, and each PCR marked
 * against a TPM or a PCR file when one is given.
 *
 * <p>DIR is a {@code boot --state-dir} (eventlog.bin + initrd-extra/.extra/kexec-measured/manifest.json)
 * or the sidecar the next system finds ({@code /run/kexec-measured}: tpm2-event-log.bin + manifest.json).
 */
public final class ReportCommand implements Callable<Integer> {
    static final String MANIFEST = "manifest.json";
    static final String SIDECAR = "initrd-extra/.extra/kexec-measured";

    Path dir;
    Path output;
    final ExpectedPcrs expected;
    CommandSpec spec;

    private ReportCommand(Services services) {
        expected = new ExpectedPcrs(services);
    }

    static CommandSpec model(Services services) {
        ReportCommand c = new ReportCommand(services);
        CommandSpec s = CliModel.command(c, "report",
                "Write a boot's state (continued event log, manifest, verdicts) as one self-contained HTML page.",
                "DIR: a boot state directory or the sidecar the next system finds (default: ${DEFAULT-VALUE}).");
        s.addPositional(CliModel.positional("DIR", Path.class, () -> c.dir, v -> c.dir = v).index("0").arity("0..1")
                .defaultValue("/run/kexec-measured").description("state directory of a boot, or a sidecar directory").build());
        s.addOption(CliModel.option("--output", Path.class, () -> c.output, v -> c.output = v).names("-o", "--output")
                .paramLabel("FILE").description("write the page here (atomically) instead of standard output").build());
        c.expected.addTo(s);
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    /** The files of one boot, found in DIR. */
    record BootFiles(Path log, Path manifest) {
    }

    static BootFiles locate(Path dir) {
        if (!Files.isDirectory(dir)) throw new BadInputException(dir + ": no such directory");
        Path manifest = first(dir.resolve(MANIFEST), dir.resolve(SIDECAR).resolve(MANIFEST));
        Path log = first(dir.resolve("eventlog.bin"), dir.resolve("tpm2-event-log.bin"),
                dir.resolve(SIDECAR).resolve("tpm2-event-log.bin"));
        if (log == null) {
            throw new BadInputException(dir + ": no event log (eventlog.bin, tpm2-event-log.bin or " + SIDECAR
                    + "/tpm2-event-log.bin): not a boot state or sidecar directory");
        }
        return new BootFiles(log, manifest);
    }

    private static Path first(Path... candidates) {
        for (Path p : candidates) if (Files.isRegularFile(p)) return p;
        return null;
    }

    @Override
    public Integer call() throws IOException {
        BootFiles f = locate(dir);
        byte[] logBytes = EventlogInput.readBytes(f.log());
        EventLog log;
        try {
            log = EventLogParser.parse(logBytes);
        } catch (BadInputException e) {
            throw new BadInputException(f.log() + ": " + e.getMessage());
        }
        JsonNode manifest = f.manifest() == null ? null : readManifest(f.manifest());
        HtmlChain.Options o = new HtmlChain.Options("kexec-measured boot report", f.log().toString(),
                manifest == null ? -1 : manifest.path("firmwareLog").path("records").asInt(-1), null, null,
                summary(manifest, f, logBytes), verdicts(manifest));
        String html = HtmlChain.render(log, HtmlReport.withExpected(o, log, expected.pcrSource()));
        if (output != null) {
            AtomicFiles.write(output, html.getBytes(StandardCharsets.UTF_8));
            spec.commandLine().getErr().println("report: " + output);
        } else {
            PrintWriter out = spec.commandLine().getOut();
            out.print(html);
            out.flush();
        }
        return 0;
    }

    static JsonNode readManifest(Path p) {
        try {
            JsonNode n = Json.MAPPER.readTree(EventlogInput.readBytes(p));
            if (n == null || !n.isObject()) throw new BadInputException(p + ": not a JSON object");
            return n;
        } catch (IOException e) {
            throw new BadInputException(p + ": not a manifest: " + Main.oneLine(e.getMessage()));
        }
    }

    /** The manifest's facts as key → text, in reading order; strings are escaped by the renderer. */
    static Map<String, String> summary(JsonNode m, BootFiles f, byte[] logBytes) {
        Map<String, String> s = new LinkedHashMap<>();
        if (m == null) {
            s.put("manifest", "none found: the log alone is shown");
            return s;
        }
        s.put("manifest", f.manifest() + " (" + text(m.path("format")) + ")");
        put(s, "tool", m.path("tool"));
        put(s, "payload", m.path("payload").path("name"));
        put(s, "payload Authenticode SHA-256", m.path("payload").path("authenticodeSha256"));
        put(s, "policy", m.path("policy").path("id"));
        if (m.path("policy").has("extendSet")) s.put("extend set", m.path("policy").path("extendSet").toString());
        if (m.has("banks")) s.put("banks", m.path("banks").toString());
        put(s, "boundary", m.path("boundary"));
        put(s, "firmware log", m.path("firmwareLog").path("source"));
        put(s, "command line handed over", m.path("handOff").path("cmdline"));
        List<String> div = new ArrayList<>();
        for (JsonNode d : m.path("divergentBeforeBoot")) {
            div.add(text(d.path("bank")) + " PCR " + text(d.path("pcr")) + ": TPM " + text(d.path("tpm")) + ", log "
                    + text(d.path("logReplay")) + (d.has("explanation") ? " (" + text(d.path("explanation")) + ")" : ""));
        }
        if (m.has("divergentBeforeBoot")) s.put("PCRs diverged before the boot", div.isEmpty() ? "none" : String.join("; ", div));
        String want = m.path("eventLog").path("sha256").asText(null);
        if (want != null) {
            String have = Hex.of(HashAlg.SHA256.digest(logBytes));
            s.put("event log SHA-256", have + (want.equalsIgnoreCase(have) ? " (as the manifest records)"
                    : " — DIFFERS from the manifest's " + want));
        }
        for (JsonNode n : m.path("notes")) s.merge("notes", text(n), (a, b) -> a + "; " + b);
        return s;
    }

    /**
     * The policy's verdict per secret. The policy engine is to record them in the manifest; this reads
     * {@code verdicts} (or {@code policy.verdicts}) as a list of objects shaped like its
     * {@code SecretVerdict}: {@code name} (or {@code secret}), {@code verdict}, {@code reason},
     * {@code intent}, {@code meetsIntent}; nothing is shown when there are none.
     */
    static List<HtmlChain.Verdict> verdicts(JsonNode m) {
        List<HtmlChain.Verdict> l = new ArrayList<>();
        if (m == null) return l;
        JsonNode v = m.has("verdicts") ? m.path("verdicts") : m.path("policy").path("verdicts");
        for (JsonNode x : v) {
            String name = x.has("secret") ? text(x.path("secret")) : text(x.path("name"));
            JsonNode meets = x.path("meetsIntent");
            l.add(new HtmlChain.Verdict(name, text(x.path("verdict")), text(x.path("reason")),
                    x.has("intent") ? text(x.path("intent")) : null, meets.isBoolean() ? meets.asBoolean() : null));
        }
        return l;
    }

    private static void put(Map<String, String> s, String key, JsonNode n) {
        if (!n.isMissingNode() && !n.isNull()) s.put(key, text(n));
    }

    private static String text(JsonNode n) {
        if (n == null || n.isMissingNode() || n.isNull()) return "";
        return n.isValueNode() ? n.asText() : n.toString();
    }
}
