package org.kexecmeasured.boot;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.JsonOut;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The sidecar of a load that does not commit ({@value #FORMAT}, {@code tcg2/sidecar.md}): a crash
 * kernel, or a boot whose commit waits for the system-shutdown hook. It carries the log as it stood
 * when the kernel was loaded (the firmware's records and the running OS's), which is what the PCRs
 * hold when that kernel starts without a commit, and says plainly that nothing was extended for it.
 */
@JsonPropertyOrder({"format", "mode", "committed", "explanation", "tool", "payload", "firmwareLog", "plannedBoundary",
        "plannedRecords", "eventLog", "notes"})
public record UncommittedManifest(String format, String mode, boolean committed, String explanation, String tool,
                                  Manifest.Payload payload, Manifest.FirmwareLog firmwareLog, String plannedBoundary,
                                  int plannedRecords, LogInfo eventLog, List<String> notes) implements JsonOut.Writable {

    public static final String FORMAT = "kexec-measured-uncommitted/1";

    @JsonPropertyOrder({"tpm2EventLog", "sha256", "records"})
    public record LogInfo(String tpm2EventLog, String sha256, int records) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "tpm2EventLog", tpm2EventLog);
            JsonOut.field(g, "sha256", sha256);
            g.writeNumberField("records", records);
            g.writeEndObject();
        }
    }

    /** The members in {@code @JsonPropertyOrder} ({@link JsonOut}: written without databind). */
    @Override
    public void writeTo(JsonGenerator g) throws IOException {
        g.writeStartObject();
        JsonOut.field(g, "format", format);
        JsonOut.field(g, "mode", mode);
        g.writeBooleanField("committed", committed);
        JsonOut.field(g, "explanation", explanation);
        JsonOut.field(g, "tool", tool);
        JsonOut.field(g, "payload", payload);
        JsonOut.field(g, "firmwareLog", firmwareLog);
        JsonOut.field(g, "plannedBoundary", plannedBoundary);
        g.writeNumberField("plannedRecords", plannedRecords);
        JsonOut.field(g, "eventLog", eventLog);
        JsonOut.field(g, "notes", notes);
        g.writeEndObject();
    }

    /** Why a load does not commit. */
    public enum Mode {
        CRASH("a crash kernel: loading it must have no side effect, and nothing measures on the way into it after "
                + "a panic; it runs with the crashed system's PCRs, which this log explains"),
        PENDING("the commit waits for the system-shutdown hook, which loads the kernel again with the committed "
                + "sidecar right before the kexec; this kernel starting with this sidecar means the commit did not happen");

        final String explanation;

        Mode(String explanation) {
            this.explanation = explanation;
        }
    }

    /**
     * Reads a sidecar's {@code manifest.json}: this record when its {@code format} is {@value #FORMAT}, empty for
     * any other format (the committed {@code kexec-measured-manifest/1}). Bad input names the file and the key: not
     * JSON, a key this version does not know, a value of the wrong type, or a key the next system needs missing
     * ({@code mode}, {@code plannedBoundary}, {@code eventLog} with its {@code tpm2EventLog} and {@code sha256}).
     */
    public static Optional<UncommittedManifest> read(Path file) {
        JsonNode tree;
        UncommittedManifest m;
        try {
            tree = Json.MAPPER.readTree(BoundedFiles.read(file, BoundedFiles.TEXT));
            if (tree == null || !tree.isObject() || !FORMAT.equals(tree.path("format").asText())) return Optional.empty();
            m = Json.MAPPER.treeToValue(tree, UncommittedManifest.class);
        } catch (JsonMappingException e) {
            String at = e.getPath().isEmpty() ? "" : " at " + key(e.getPath());
            throw new BadInputException(file + ": not a " + FORMAT + " manifest" + at + ": "
                    + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (IOException e) {
            throw new BadInputException(file + ": not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (m.mode() == null) throw new BadInputException(file + ": mode: missing");
        if (m.plannedBoundary() == null) throw new BadInputException(file + ": plannedBoundary: missing");
        if (m.eventLog() == null) throw new BadInputException(file + ": eventLog: missing");
        if (m.eventLog().tpm2EventLog() == null) throw new BadInputException(file + ": eventLog.tpm2EventLog: missing");
        if (m.eventLog().sha256() == null) throw new BadInputException(file + ": eventLog.sha256: missing");
        return Optional.of(m);
    }

    private static String key(List<JsonMappingException.Reference> path) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference r : path) {
            if (r.getFieldName() != null) {
                if (sb.length() > 0) sb.append('.');
                sb.append(r.getFieldName());
            } else {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    /** The files of {@code /.extra/kexec-measured/} for such a load: the log as it stood, and this manifest. */
    public static SortedMap<String, byte[]> sidecarFiles(Plan plan, Mode mode) {
        byte[] log = plan.firmwareLog().toBytes();
        UncommittedManifest m = new UncommittedManifest(FORMAT, mode.name().toLowerCase(java.util.Locale.ROOT), false,
                mode.explanation, "kexec-measured " + plan.toolVersion(),
                new Manifest.Payload(plan.payloadName(), Hex.of(plan.payloadAuthenticodeSha256())),
                new Manifest.FirmwareLog(plan.firmwareLogSource(), plan.firmwareRecords()),
                new String(plan.boundary().data(), StandardCharsets.UTF_8), plan.extendRecords().size(),
                new LogInfo(Sidecar.LOG_FILE, Hex.of(HashAlg.SHA256.digest(log)), plan.firmwareRecords()), plan.notes());
        SortedMap<String, byte[]> files = new TreeMap<>();
        files.put(Sidecar.LOG_FILE, log);
        files.put(Sidecar.MANIFEST_FILE, JsonOut.pretty(m));
        return files;
    }
}
