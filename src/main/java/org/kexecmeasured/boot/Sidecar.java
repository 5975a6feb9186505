package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.export.CelJson;
import org.kexecmeasured.util.JsonOut;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a boot leaves for the next kernel and for inspection, computed from the {@link Plan} alone,
 * before the commit: the continued binary log, its CEL-JSON, the side record and the manifest. The
 * kexec load happens before the commit, so the initrd it builds must already carry these; when the
 * commit succeeds the log it writes equals {@link #eventLog()} byte for byte (the commit checks).
 *
 * <p>{@link #initrdFiles()} is the content of {@code /.extra/kexec-measured/} in the next kernel's
 * initrd ({@code STATE/initrd-extra/.extra/kexec-measured/} on disk); the formats are specified in
 * {@code tcg2/sidecar.md}.
 */
public final class Sidecar {
    /** The binary log inside the sidecar directory. */
    public static final String LOG_FILE = "tpm2-event-log.bin";
    public static final String MANIFEST_FILE = "manifest.json";
    /** The same log as CEL-JSON, for verifiers that read that (systemd-pcrlock's format for firmware records). */
    public static final String CEL_FILE = "tpm2-event-log.cel.json";

    private final byte[] eventLog;
    private final byte[] celJson;
    private final SideRecord sideRecord;
    private final Manifest manifest;
    private final SortedMap<String, byte[]> extraFiles;
    private final SortedMap<String, byte[]> rootFiles;
    /** Serialized once here: the space check and the outputs both need the bytes. */
    private final byte[] sideRecordJson;
    private final byte[] manifestJson;

    private Sidecar(byte[] eventLog, byte[] celJson, SideRecord sideRecord, Manifest manifest,
                    SortedMap<String, byte[]> extraFiles, SortedMap<String, byte[]> rootFiles) {
        this.eventLog = eventLog;
        this.celJson = celJson;
        this.sideRecord = sideRecord;
        this.manifest = manifest;
        this.extraFiles = extraFiles;
        this.rootFiles = rootFiles;
        this.sideRecordJson = JsonOut.pretty(sideRecord);
        this.manifestJson = JsonOut.pretty(manifest);
    }

    /** The sidecar of a plan; {@code extraFiles} go beside the manifest. */
    public static Sidecar from(Plan plan, Map<String, byte[]> extraFiles) {
        return from(plan, new Decision(true, java.util.List.of(), new TreeMap<>(extraFiles)));
    }

    /**
     * The sidecar of a plan and its decision: the decision's sidecar files go beside the manifest,
     * its extra files into {@code /.extra/} itself, its record and verdicts into the manifest
     * ({@code policyDecision}, {@code verdicts}).
     */
    public static Sidecar from(Plan plan, Decision decision) {
        byte[] log = plan.predictedLog().toBytes();
        SortedMap<String, byte[]> extra = new TreeMap<>();
        decision.sidecarFiles().forEach((name, bytes) -> {
            checkExtraName(name);
            extra.put(name, bytes.clone());
        });
        SortedMap<String, byte[]> root = new TreeMap<>();
        decision.extraFiles().forEach((name, bytes) -> {
            checkRootName(name);
            root.put(name, bytes.clone());
        });
        return new Sidecar(log, JsonOut.pretty(CelJson.writer(plan.predictedLog())), SideRecord.of(plan),
                Manifest.of(plan, log, decision.record(), decision.verdicts()), Collections.unmodifiableSortedMap(extra),
                Collections.unmodifiableSortedMap(root));
    }

    /** A file of {@code /.extra/} itself: a plain name, not the sidecar's own directory. */
    static void checkRootName(String name) {
        if (name.isEmpty() || name.contains("/") || name.contains("\0") || name.equals(".") || name.equals("..")
                || name.equals("kexec-measured")) {
            throw new IllegalArgumentException("not a /.extra/ file name: '" + name + "'");
        }
    }

    /** Files for {@code /.extra/} itself in the next kernel's initrd ({@code STATE/initrd-extra/.extra/} on disk). */
    public SortedMap<String, byte[]> extraFiles() {
        SortedMap<String, byte[]> m = new TreeMap<>();
        rootFiles.forEach((k, v) -> m.put(k, v.clone()));
        return m;
    }

    /** An extra file is a plain name that does not replace the sidecar's own files. */
    static void checkExtraName(String name) {
        if (name.isEmpty() || name.contains("/") || name.contains("\0") || name.equals(".") || name.equals("..")
                || name.equals(LOG_FILE) || name.equals(MANIFEST_FILE) || name.equals(CEL_FILE)) {
            throw new IllegalArgumentException("not a sidecar file name: '" + name + "'");
        }
    }

    /** The continued binary log (crypto-agile): firmware records, boundary, the payload's records. */
    public byte[] eventLog() {
        return eventLog.clone();
    }

    /** The same records as CEL-JSON. */
    public byte[] celJson() {
        return celJson.clone();
    }

    public SideRecord sideRecord() {
        return sideRecord;
    }

    public byte[] sideRecordJson() {
        return sideRecordJson.clone();
    }

    public Manifest manifest() {
        return manifest;
    }

    public byte[] manifestJson() {
        return manifestJson.clone();
    }

    /** The files of {@code /.extra/kexec-measured/}: the log, the manifest, then any extra files. */
    public SortedMap<String, byte[]> initrdFiles() {
        SortedMap<String, byte[]> m = new TreeMap<>();
        m.put(LOG_FILE, eventLog());
        m.put(MANIFEST_FILE, manifestJson());
        m.put(CEL_FILE, celJson());
        extraFiles.forEach((k, v) -> m.put(k, v.clone()));
        return m;
    }

    /**
     * Serializes, and throws away, a sidecar's kinds of content: {@code sample}'s CEL-JSON (a real log: the firmware
     * log with the boundary records), a manifest and a side record with every member filled, the journal's lines
     * and the log's replay. Their first use in a process loads their classes (the records' writers, jackson-core's
     * generator, the log's serializer and replay), which {@link #from} and the commit would otherwise load on the
     * boot's critical path after the plan; the planner runs this on a second core while the payload is emulated
     * ({@link Planner}), once that core has hashed what the emulation needs. Writes nothing and has no effect
     * besides the JVM's caches; any failure only loses the head start. (Everything is written by {@link JsonOut}'s
     * streaming writers: no databind serializer is built, here or later.)
     */
    public static void warmUp(org.kexecmeasured.eventlog.EventLog sample) {
        try {
            JsonOut.pretty(CelJson.writer(sample));
            sample.toBytes();
            org.kexecmeasured.eventlog.Replay.replay(sample);
            BootPolicy policy = BootPolicy.BUILTIN_DEFAULT;
            java.util.List<Manifest.Divergent> div = java.util.List.of(new Manifest.Divergent("sha256", 0, "00", "00", "warm"));
            Map<String, Map<String, String>> expect = Map.of("sha256", Map.of("4", "00"));
            JsonOut.pretty(new Manifest(Manifest.FORMAT, "warm", new Manifest.Payload("warm", "00"),
                    new Manifest.Policy(policy.id(), policy.extendSet(), policy.boundarySet()), java.util.List.of("sha256"),
                    "warm", new Manifest.FirmwareLog("warm", 1), div, new Manifest.EventLogInfo(LOG_FILE, "00", 1, 1, 1),
                    expect, new Manifest.HandOffInfo("warm", 1), java.util.List.of("warm"),
                    java.util.List.of(new Manifest.Verdict("warm", "unknown", "warm", "any", true)), null));
            JsonOut.pretty(new SideRecord(SideRecord.FORMAT, SideRecord.RULE, java.util.List.of(
                    new SideRecord.Event(4, "0x3", "payload", Map.of("sha256", "00"), "AA=="))));
            Measurement m = new Measurement(4, 3, Map.of(org.kexecmeasured.util.HashAlg.SHA256, new byte[32]), new byte[1]);
            JsonOut.compact(Journal.Line.intent(1, m));
            JsonOut.compact(Journal.Line.logged(2, m));
            JsonOut.compact(Journal.Line.done(1));
        } catch (RuntimeException e) {
            // only the head start is lost: the boot serializes for real later and reports any failure there
        }
    }
}
