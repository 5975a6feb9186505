package org.kexecmeasured.boot;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A boot whose commit waits for the last moment (format {@value #FORMAT}, {@code tcg2/pending.md}): the
 * plan's records, boundary and hand-off, saved by {@code boot --at-shutdown} and committed by the
 * system-shutdown hook right before the kexec reboot, after the OS's own last measurements (systemd's
 * {@code shutdown} and {@code final} phases). The payload is not emulated again: the records stay, only
 * the PCR reading and the log head are renewed ({@link PlanRebase}).
 *
 * <p>Files in the pending directory: {@value #FILE} (this record), {@code kernel.bin} and
 * {@code initrd.bin} (the hand-off, SHA-256 checked on load), {@code tool} (the launcher the hook runs).
 */
@JsonPropertyOrder({"format", "created", "tool", "stateDir", "payloadName", "payloadAuthenticodeSha256", "policy", "toolVersion",
        "firmwareLogSource", "tpmBanks", "logBanks", "boundary", "records", "handOff", "sidecarExtraFiles", "notes", "toleratedDivergent"})
public record PendingBoot(String format, String created, String tool, String stateDir, String payloadName, String payloadAuthenticodeSha256,
                          PolicyInfo policy, String toolVersion, String firmwareLogSource, List<String> tpmBanks,
                          List<String> logBanks, BoundaryInfo boundary, List<RecordInfo> records, HandOffInfo handOff,
                          Map<String, String> sidecarExtraFiles, List<String> notes, List<Integer> toleratedDivergent) {

    public static final String FORMAT = "kexec-measured-pending/1";
    public static final String FILE = "pending.json";
    /** Where {@code boot --at-shutdown} leaves it and the hook looks for it. */
    public static final Path DEFAULT_DIR = Path.of("/run/kexec-measured-pending");

    public record PolicyInfo(String id, List<Integer> extendSet, List<Integer> boundarySet) {
    }

    /** The boundary event's fields; {@code data} is checked against the event rebuilt from them. */
    public record BoundaryInfo(String toolVersion, String time, String nonce, String payload, String policy,
                               List<Integer> pcrs, String data) {
    }

    public record RecordInfo(int pcr, long eventType, Map<String, String> digests, String eventData, String origin,
                             String disposition) {
    }

    public record HandOffInfo(String cmdline, String devicePath, String loadOptions, String kernelSha256,
                              String initrdSha256) {
    }

    /** Saves the parts of {@code plan} a later commit needs; the directory is created mode 0700. */
    public static void save(Plan plan, Map<String, byte[]> sidecarExtraFiles, Path stateDir, Path dir, String tool,
                            java.util.Set<Integer> toleratedDivergent) throws IOException {
        Files.createDirectories(dir);
        try {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system: nothing to tighten
        }
        HandOff h = plan.handOff();
        AtomicFiles.write(dir.resolve("kernel.bin"), h.kernel());
        AtomicFiles.write(dir.resolve("initrd.bin"), h.initrd());
        AtomicFiles.write(dir.resolve("tool"), (tool + "\n").getBytes(StandardCharsets.UTF_8));
        BoundaryEvent b = plan.boundary();
        String data = new String(b.data(), StandardCharsets.UTF_8);
        List<RecordInfo> records = new ArrayList<>();
        for (PlannedRecord r : plan.records()) {
            Measurement m = r.measurement();
            Map<String, String> d = new LinkedHashMap<>();
            m.digests().forEach((a, v) -> d.put(a.tpmName, Hex.of(v)));
            records.add(new RecordInfo(m.pcr(), m.eventType() & 0xffffffffL, d,
                    Base64.getEncoder().encodeToString(m.eventData()), r.origin().name(), r.disposition().name()));
        }
        Map<String, String> extra = new TreeMap<>();
        sidecarExtraFiles.forEach((k, v) -> extra.put(k, Base64.getEncoder().encodeToString(v)));
        PendingBoot p = new PendingBoot(FORMAT, Instant.now().toString(), tool, stateDir.toAbsolutePath().toString(),
                plan.payloadName(),
                Hex.of(plan.payloadAuthenticodeSha256()),
                new PolicyInfo(plan.policy().id(), List.copyOf(plan.policy().extendSet()), List.copyOf(plan.policy().boundarySet())),
                plan.toolVersion(), plan.firmwareLogSource(), names(plan.tpmBanks()), names(plan.logBanks()),
                new BoundaryInfo(field(data, "tool").replaceFirst("^kexec-measured ", ""), field(data, "time"),
                        field(data, "nonce"), field(data, "payload"), field(data, "policy"),
                        List.copyOf(plan.policy().boundarySet()), data),
                records, new HandOffInfo(h.cmdline(), h.devicePath(), Base64.getEncoder().encodeToString(h.loadOptions()),
                        Hex.of(HashAlg.SHA256.digest(h.kernel())), Hex.of(HashAlg.SHA256.digest(h.initrd()))),
                extra, plan.notes(), toleratedDivergent.stream().sorted().toList());
        AtomicFiles.write(dir.resolve(FILE), Json.PRETTY.writeValueAsBytes(p));
    }

    /**
     * The PCRs the prepare's decider let diverge from the firmware log ({@link Decider#toleratedDivergent}:
     * {@code --tolerate-divergent}, a policy's {@code measurement.tolerate-divergent}); the commit tolerates
     * these and no others. An older file without the key: none.
     */
    public java.util.Set<Integer> toleratedDivergentPcrs() {
        return toleratedDivergent == null ? java.util.Set.of() : java.util.Set.copyOf(toleratedDivergent);
    }

    /** Reads a saved pending boot; every inconsistency is bad input naming the file. */
    public static PendingBoot read(Path dir) {
        Path f = dir.resolve(FILE);
        PendingBoot p;
        try {
            p = Json.MAPPER.readValue(Files.readAllBytes(f), PendingBoot.class);
        } catch (IOException e) {
            throw new BadInputException(f + ": not a pending boot: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (!FORMAT.equals(p.format())) throw new BadInputException(f + ": format " + p.format() + ", expected " + FORMAT);
        return p;
    }

    /** The hand-off, the records and the boundary as a plan on {@code head} and {@code before} (see {@link PlanRebase}). */
    public Plan plan(Path dir, EventLog head, PcrSet before, String pcrSource, List<String> notes) {
        BootPolicy policy = new BootPolicy(new TreeSet<>(policy().extendSet()), new TreeSet<>(policy().boundarySet()), policy().id());
        BoundaryEvent b = new BoundaryEvent(boundary.toolVersion(), Instant.parse(boundary.time()), Hex.parse(boundary.nonce()),
                Hex.parse(boundary.payload()), boundary.policy(), new TreeSet<>(boundary.pcrs()));
        if (!Arrays.equals(b.data(), boundary.data().getBytes(StandardCharsets.UTF_8))) {
            throw new BadInputException(dir.resolve(FILE) + ": the boundary fields do not rebuild its data");
        }
        List<PlannedRecord> recs = new ArrayList<>();
        for (RecordInfo r : records) {
            Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
            r.digests().forEach((a, v) -> d.put(HashAlg.fromName(a), Hex.parse(v)));
            recs.add(new PlannedRecord(new Measurement(r.pcr(), (int) r.eventType(), d, Base64.getDecoder().decode(r.eventData())),
                    Origin.valueOf(r.origin()), PlannedRecord.Disposition.valueOf(r.disposition())));
        }
        byte[] kernel = readChecked(dir.resolve("kernel.bin"), handOff.kernelSha256());
        byte[] initrd = readChecked(dir.resolve("initrd.bin"), handOff.initrdSha256());
        HandOff h = new HandOff(kernel, handOff.cmdline(), initrd, handOff.devicePath(), "", List.of(),
                Base64.getDecoder().decode(handOff.loadOptions()));
        List<HashAlg> tpm = tpmBanks.stream().map(HashAlg::fromName).toList();
        List<HashAlg> log = logBanks.stream().map(HashAlg::fromName).toList();
        Plan saved = new Plan(payloadName, Hex.parse(payloadAuthenticodeSha256), policy, toolVersion, firmwareLogSource,
                head, pcrSource, tpm, log, before, List.of(), b, recs, before, head, h,
                new Plan.Stats(0, 0, 0, 0, 0, 0, new TreeMap<>()), this.notes);
        return PlanRebase.rebase(saved, head, before, pcrSource, notes);
    }

    public Map<String, byte[]> sidecarExtraFileBytes() {
        SortedMap<String, byte[]> m = new TreeMap<>();
        sidecarExtraFiles.forEach((k, v) -> m.put(k, Base64.getDecoder().decode(v)));
        return m;
    }

    private static byte[] readChecked(Path f, String sha256) {
        try {
            byte[] b = Files.readAllBytes(f);
            if (!Hex.of(HashAlg.SHA256.digest(b)).equals(sha256)) throw new BadInputException(f + ": SHA-256 differs from the pending boot's");
            return b;
        } catch (IOException e) {
            throw new BadInputException(f + ": cannot read: " + e.getMessage());
        }
    }

    private static List<String> names(List<HashAlg> banks) {
        return banks.stream().map(a -> a.tpmName).toList();
    }

    private static String field(String data, String key) {
        for (String l : data.split("\n")) if (l.startsWith(key + "=")) return l.substring(key.length() + 1);
        throw new IllegalStateException("boundary data without " + key);
    }
}
