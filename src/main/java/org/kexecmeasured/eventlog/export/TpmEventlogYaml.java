package org.kexecmeasured.eventlog.export;

import org.kexecmeasured.eventlog.Digest;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventType;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.SpecIdEvent;
import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.decode.EfiVariable;
import org.kexecmeasured.eventlog.decode.FirmwareBlob;
import org.kexecmeasured.eventlog.decode.ImageLoad;
import org.kexecmeasured.eventlog.decode.TextEvent;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.BitSet;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A YAML view laid out like {@code tpm2_eventlog}'s (same keys and nesting, trailing {@code pcrs:}
 * with the PCRs the log extends), so the two can be diffed. Decoded fields go under {@code Event:};
 * device paths are shown as text where tpm2_eventlog prints hex.
 */
public final class TpmEventlogYaml {
    private TpmEventlogYaml() {
    }

    public static String render(EventLog log, String error) {
        StringBuilder sb = new StringBuilder(Math.min(log.events().size(), 1 << 16) * 300);
        render(log, error, sb);
        return sb.toString();
    }

    /** The same, written record by record to {@code out} (a large log's view never exists whole). */
    public static void render(EventLog log, String error, Appendable out) {
        try {
            out.append("---\nversion: 1\nevents:\n");
            StringBuilder sb = new StringBuilder(1024);
            for (Event e : log.events()) {
                sb.setLength(0);
                event(sb, log, e);
                out.append(sb);
            }
            sb.setLength(0);
            if (error != null) sb.append("error: ").append(quote(error)).append('\n');
            sb.append("pcrs:\n");
            Map<HashAlg, byte[][]> replay = Replay.replay(log);
            BitSet ext = Replay.extendedPcrs(log);
            replay.forEach((bank, pcrs) -> {
                if (ext.isEmpty()) return;
                sb.append("  ").append(bank.tpmName).append(":\n");
                for (int i = ext.nextSetBit(0); i >= 0; i = ext.nextSetBit(i + 1)) {
                    sb.append(String.format("    %-3d: 0x%s%n", i, Hex.of(pcrs[i])));
                }
            });
            out.append(sb);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void event(StringBuilder sb, EventLog log, Event e) {
        sb.append("- EventNum: ").append(e.index()).append('\n');
        sb.append("  PCRIndex: ").append(e.pcrIndex()).append('\n');
        sb.append("  EventType: ").append(e.eventTypeName()).append('\n');
        if (e.isLegacyRecord() && e.index() == 0 && log.specId() != null) {
            sb.append("  Digest: \"").append(Hex.of(e.digestList().get(0).value())).append("\"\n");
            sb.append("  EventSize: ").append(e.dataSize()).append('\n');
            specId(sb, log.specId());
            return;
        }
        sb.append("  DigestCount: ").append(e.digestList().size()).append('\n');
        sb.append("  Digests:\n");
        for (Digest d : e.digestList()) {
            sb.append("  - AlgorithmId: ").append(d.algName()).append('\n');
            sb.append("    Digest: \"").append(Hex.of(d.value())).append("\"\n");
        }
        sb.append("  EventSize: ").append(e.dataSize()).append('\n');
        DecodedEvent d = e.decoded();
        if (d instanceof EfiVariable || d instanceof FirmwareBlob || d instanceof ImageLoad
                || d instanceof TextEvent && e.eventType() == EventType.EV_IPL) {
            sb.append("  Event:\n");
            for (Map.Entry<String, Object> f : d.fields().entrySet()) {
                if (f.getValue() instanceof Map || f.getKey().equals("Encoding") || f.getKey().equals("NulTerminated")) continue;
                sb.append("    ").append(f.getKey()).append(": ").append(scalar(f.getValue())).append('\n');
            }
        } else if (d instanceof TextEvent t && e.eventType() == EventType.EV_EFI_ACTION) {
            sb.append("  Event: ").append(quote(t.text())).append('\n');
        } else {
            sb.append("  Event: \"").append(Hex.of(e.data())).append("\"\n");
        }
        if (!(d instanceof DecodedEvent.Raw) && !(d instanceof org.kexecmeasured.eventlog.decode.Separator)
                && !(d instanceof EfiVariable || d instanceof FirmwareBlob
                || d instanceof ImageLoad || d instanceof TextEvent)) {
            sb.append("  Decoded: ").append(quote(d.summary())).append('\n');
        }
    }

    private static void specId(StringBuilder sb, SpecIdEvent s) {
        sb.append("  SpecID:\n");
        sb.append("  - Signature: Spec ID Event03\n");
        sb.append("    platformClass: ").append(s.platformClass()).append('\n');
        sb.append("    specVersionMinor: ").append(s.specVersionMinor()).append('\n');
        sb.append("    specVersionMajor: ").append(s.specVersionMajor()).append('\n');
        sb.append("    specErrata: ").append(s.specErrata()).append('\n');
        sb.append("    uintnSize: ").append(s.uintnSize()).append('\n');
        sb.append("    numberOfAlgorithms: ").append(s.algorithms().size()).append('\n');
        sb.append("    Algorithms:\n");
        int i = 0;
        for (SpecIdEvent.Algorithm a : s.algorithms()) {
            sb.append("    - Algorithm[").append(i++).append("]:\n");
            sb.append("      algorithmId: ").append(a.name()).append('\n');
            sb.append("      digestSize: ").append(a.digestSize()).append('\n');
        }
        sb.append("    vendorInfoSize: ").append(s.vendorInfo().length).append('\n');
        if (s.vendorInfo().length > 0) sb.append("    vendorInfo: \"").append(Hex.of(s.vendorInfo())).append("\"\n");
    }

    /** Compiled once: a log's view formats a scalar per field (String.matches compiled per call). */
    private static final Pattern HEX_OR_GUID = Pattern.compile("0x[0-9a-f]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern YAML_WORD = Pattern.compile("(?i)y|n|yes|no|true|false|on|off|null");

    private static String scalar(Object v) {
        if (v instanceof Number || v instanceof Boolean) return v.toString();
        String s = String.valueOf(v);
        if (HEX_OR_GUID.matcher(s).matches()) return s;
        // identifiers (variable names) plain, as tpm2_eventlog prints them, unless YAML would read them as something else
        if (IDENTIFIER.matcher(s).matches() && !YAML_WORD.matcher(s).matches()) return s;
        return quote(s);
    }

    /** A double-quoted YAML scalar with every non-printable character escaped. */
    public static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                case 0 -> sb.append("\\0");
                default -> {
                    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || Character.isSurrogate(c) || c == 0xfeff
                            || c == 0xfffe || c == 0xffff) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
