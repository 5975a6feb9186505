package org.kexecmeasured.boot;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.JsonOut;

import java.io.IOException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;

/**
 * {@code manifest.json} of the sidecar, format {@value #FORMAT} (specified in {@code tcg2/sidecar.md}):
 * what the next kernel finds under {@code /.extra/kexec-measured/} about the boot that started it.
 * Every field comes from the {@link Plan}.
 *
 * @param expectedPcrs per log bank, the extend-set PCR values the log replays to: what the TPM holds
 *                     when the next kernel starts (unless a PCR diverged before the boot)
 * @param verdicts     the policy's verdict per sealed secret (what {@code report} shows); absent without
 *                     a policy file or when it names no secrets
 */
@JsonPropertyOrder({"format", "tool", "payload", "policy", "banks", "boundary", "firmwareLog", "divergentBeforeBoot",
        "eventLog", "expectedPcrs", "handOff", "notes", "verdicts", "policyDecision"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Manifest(String format, String tool, Payload payload, Policy policy, List<String> banks, String boundary,
                       FirmwareLog firmwareLog, List<Divergent> divergentBeforeBoot, EventLogInfo eventLog,
                       Map<String, Map<String, String>> expectedPcrs, HandOffInfo handOff, List<String> notes,
                       List<Verdict> verdicts, JsonNode policyDecision) implements JsonOut.Writable {

    public static final String FORMAT = "kexec-measured-manifest/1";

    @JsonPropertyOrder({"name", "authenticodeSha256"})
    public record Payload(String name, String authenticodeSha256) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "name", name);
            JsonOut.field(g, "authenticodeSha256", authenticodeSha256);
            g.writeEndObject();
        }
    }

    @JsonPropertyOrder({"id", "extendSet", "boundarySet"})
    public record Policy(String id, SortedSet<Integer> extendSet, SortedSet<Integer> boundarySet) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "id", id);
            JsonOut.field(g, "extendSet", extendSet);
            JsonOut.field(g, "boundarySet", boundarySet);
            g.writeEndObject();
        }
    }

    @JsonPropertyOrder({"source", "records"})
    public record FirmwareLog(String source, int records) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "source", source);
            g.writeNumberField("records", records);
            g.writeEndObject();
        }
    }

    @JsonPropertyOrder({"bank", "pcr", "tpm", "logReplay", "explanation"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Divergent(String bank, int pcr, String tpm, String logReplay, String explanation)
            implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.optional(g, "bank", bank);
            g.writeNumberField("pcr", pcr);
            JsonOut.optional(g, "tpm", tpm);
            JsonOut.optional(g, "logReplay", logReplay);
            JsonOut.optional(g, "explanation", explanation);
            g.writeEndObject();
        }
    }

    /**
     * @param addedRecords records the boot extended (and logged)
     * @param notExtended  records kept in {@code not-extended.json} only
     */
    @JsonPropertyOrder({"tpm2EventLog", "sha256", "records", "addedRecords", "notExtended"})
    public record EventLogInfo(String tpm2EventLog, String sha256, int records, int addedRecords, int notExtended)
            implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "tpm2EventLog", tpm2EventLog);
            JsonOut.field(g, "sha256", sha256);
            g.writeNumberField("records", records);
            g.writeNumberField("addedRecords", addedRecords);
            g.writeNumberField("notExtended", notExtended);
            g.writeEndObject();
        }
    }

    @JsonPropertyOrder({"cmdline", "initrdSize"})
    public record HandOffInfo(String cmdline, int initrdSize) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "cmdline", cmdline);
            g.writeNumberField("initrdSize", initrdSize);
            g.writeEndObject();
        }
    }

    /**
     * A sealed secret's verdict, flat: what the next system's secret will do after this boot.
     *
     * @param verdict     {@code reachable}, {@code unreachable} or {@code unknown}
     * @param reason      why, in words
     * @param intent      the policy's {@code must-remain}: {@code reachable}, {@code unreachable} or {@code any}
     * @param meetsIntent whether the verdict is what the intent asks
     */
    @JsonPropertyOrder({"name", "verdict", "reason", "intent", "meetsIntent"})
    public record Verdict(String name, String verdict, String reason, String intent, boolean meetsIntent)
            implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "name", name);
            JsonOut.field(g, "verdict", verdict);
            JsonOut.field(g, "reason", reason);
            JsonOut.field(g, "intent", intent);
            g.writeBooleanField("meetsIntent", meetsIntent);
            g.writeEndObject();
        }
    }

    /** The members in {@code @JsonPropertyOrder}, nulls left out ({@link JsonOut}: written without databind). */
    @Override
    public void writeTo(JsonGenerator g) throws IOException {
        g.writeStartObject();
        JsonOut.optional(g, "format", format);
        JsonOut.optional(g, "tool", tool);
        JsonOut.optional(g, "payload", payload);
        JsonOut.optional(g, "policy", policy);
        JsonOut.optional(g, "banks", banks);
        JsonOut.optional(g, "boundary", boundary);
        JsonOut.optional(g, "firmwareLog", firmwareLog);
        JsonOut.optional(g, "divergentBeforeBoot", divergentBeforeBoot);
        JsonOut.optional(g, "eventLog", eventLog);
        JsonOut.optional(g, "expectedPcrs", expectedPcrs);
        JsonOut.optional(g, "handOff", handOff);
        JsonOut.optional(g, "notes", notes);
        JsonOut.optional(g, "verdicts", verdicts);
        JsonOut.optional(g, "policyDecision", policyDecision);
        g.writeEndObject();
    }

    /** The manifest of a plan whose log serialises to {@code logBytes}. */
    static Manifest of(Plan plan, byte[] logBytes) {
        return of(plan, logBytes, null, List.of());
    }

    /**
     * … with the policy decision's record ({@code policyDecision}; null: none, the built-in policy) and
     * its verdicts ({@code verdicts}; empty: the key is left out).
     */
    static Manifest of(Plan plan, byte[] logBytes, JsonNode policyDecision, List<Verdict> verdicts) {
        List<Divergent> div = plan.divergences().stream().map(d -> new Divergent(d.bank().tpmName, d.pcr(),
                Hex.of(d.tpm()), Hex.of(d.logReplay()), d.explanation())).toList();
        Map<String, Map<String, String>> expect = new LinkedHashMap<>();
        for (Map.Entry<HashAlg, byte[][]> e : Replay.replay(plan.predictedLog()).entrySet()) {
            Map<String, String> b = new LinkedHashMap<>();
            for (int p : plan.policy().extendSet()) b.put(Integer.toString(p), Hex.of(e.getValue()[p]));
            expect.put(e.getKey().tpmName, b);
        }
        HandOffInfo h = plan.handOff() == null ? null
                : new HandOffInfo(plan.handOff().cmdline(), plan.handOff().initrdSize());
        return new Manifest(FORMAT, "kexec-measured " + plan.toolVersion(),
                new Payload(plan.payloadName(), Hex.of(plan.payloadAuthenticodeSha256())),
                new Policy(plan.policy().id(), plan.policy().extendSet(), plan.policy().boundarySet()),
                plan.tpmBanks().stream().map(a -> a.tpmName).toList(),
                new String(plan.boundary().data(), java.nio.charset.StandardCharsets.UTF_8),
                new FirmwareLog(plan.firmwareLogSource(), plan.firmwareRecords()), div,
                new EventLogInfo(Sidecar.LOG_FILE, Hex.of(HashAlg.SHA256.digest(logBytes)),
                        plan.predictedLog().events().size(), plan.extendRecords().size(), plan.sideRecords().size()),
                expect, h, plan.notes(), verdicts == null || verdicts.isEmpty() ? null : List.copyOf(verdicts), policyDecision);
    }
}
