package org.kexecmeasured.boot;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
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
                                  int plannedRecords, LogInfo eventLog, List<String> notes) {

    public static final String FORMAT = "kexec-measured-uncommitted/1";

    @JsonPropertyOrder({"tpm2EventLog", "sha256", "records"})
    public record LogInfo(String tpm2EventLog, String sha256, int records) {
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
        try {
            files.put(Sidecar.MANIFEST_FILE, Json.PRETTY.writeValueAsBytes(m));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }
}
