package org.kexecmeasured.boot;

import org.kexecmeasured.util.BoundedFiles;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonGenerator;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.JsonOut;

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
@JsonPropertyOrder({"format", "created", "tool", "stateDir", "tcti", "payloadName", "payloadAuthenticodeSha256", "policy", "toolVersion",
        "firmwareLogSource", "tpmBanks", "logBanks", "boundary", "records", "planSha256", "handOff", "sidecarExtraFiles", "notes"})
public record PendingBoot(String format, String created, String tool, String stateDir, String tcti, String payloadName, String payloadAuthenticodeSha256,
                          PolicyInfo policy, String toolVersion, String firmwareLogSource, List<String> tpmBanks,
                          List<String> logBanks, BoundaryInfo boundary, List<RecordInfo> records, String planSha256, HandOffInfo handOff,
                          Map<String, String> sidecarExtraFiles, List<String> notes) implements JsonOut.Writable {

    public static final String FORMAT = "kexec-measured-pending/2";
    public static final String FILE = "pending.json";
    /** Where {@code boot --at-shutdown} leaves it and the hook looks for it. */
    public static final Path DEFAULT_DIR = Path.of("/run/kexec-measured-pending");
    /** The TPM a pending file without {@code tcti} (written before it was saved) is committed to. */
    public static final String DEFAULT_TCTI = "device:/dev/tpmrm0";

    /**
     * @param tolerateDivergent PCRs the preparation's policy lets diverge from the log (the built-in policy's
     *                          {@code --tolerate-divergent}, a policy file's {@code measurement.tolerate-divergent}):
     *                          the commit re-checks divergence on the PCRs it reads then, with this same set
     *                          (absent in files of earlier versions: none)
     */
    public record PolicyInfo(String id, List<Integer> extendSet, List<Integer> boundarySet, List<Integer> tolerateDivergent)
            implements JsonOut.Writable {
        public PolicyInfo {
            tolerateDivergent = tolerateDivergent == null ? List.of() : List.copyOf(tolerateDivergent);
        }

        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "id", id);
            JsonOut.field(g, "extendSet", extendSet);
            JsonOut.field(g, "boundarySet", boundarySet);
            JsonOut.field(g, "tolerateDivergent", tolerateDivergent);
            g.writeEndObject();
        }
    }

    /** The boundary event's fields; {@code data} is checked against the event rebuilt from them. */
    public record BoundaryInfo(String toolVersion, String time, String nonce, String payload, String policy,
                               List<Integer> pcrs, String data) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "toolVersion", toolVersion);
            JsonOut.field(g, "time", time);
            JsonOut.field(g, "nonce", nonce);
            JsonOut.field(g, "payload", payload);
            JsonOut.field(g, "policy", policy);
            JsonOut.field(g, "pcrs", pcrs);
            JsonOut.field(g, "data", data);
            g.writeEndObject();
        }
    }

    public record RecordInfo(int pcr, long eventType, Map<String, String> digests, String eventData, String origin,
                             String disposition) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            g.writeNumberField("pcr", pcr);
            g.writeNumberField("eventType", eventType);
            JsonOut.field(g, "digests", digests);
            JsonOut.field(g, "eventData", eventData);
            JsonOut.field(g, "origin", origin);
            JsonOut.field(g, "disposition", disposition);
            g.writeEndObject();
        }
    }

    public record HandOffInfo(String cmdline, String devicePath, String loadOptions, String kernelSha256,
                              String initrdSha256) implements JsonOut.Writable {
        @Override
        public void writeTo(JsonGenerator g) throws IOException {
            g.writeStartObject();
            JsonOut.field(g, "cmdline", cmdline);
            JsonOut.field(g, "devicePath", devicePath);
            JsonOut.field(g, "loadOptions", loadOptions);
            JsonOut.field(g, "kernelSha256", kernelSha256);
            JsonOut.field(g, "initrdSha256", initrdSha256);
            g.writeEndObject();
        }
    }

    /**
     * The members in {@code @JsonPropertyOrder}, each record's in its components' order (databind's for a record
     * without one), written without databind ({@link JsonOut}: {@code boot --at-shutdown} builds no databind
     * serializer; the commit's reading parses with databind).
     */
    @Override
    public void writeTo(JsonGenerator g) throws IOException {
        g.writeStartObject();
        JsonOut.field(g, "format", format);
        JsonOut.field(g, "created", created);
        JsonOut.field(g, "tool", tool);
        JsonOut.field(g, "stateDir", stateDir);
        JsonOut.field(g, "tcti", tcti);
        JsonOut.field(g, "payloadName", payloadName);
        JsonOut.field(g, "payloadAuthenticodeSha256", payloadAuthenticodeSha256);
        JsonOut.field(g, "policy", policy);
        JsonOut.field(g, "toolVersion", toolVersion);
        JsonOut.field(g, "firmwareLogSource", firmwareLogSource);
        JsonOut.field(g, "tpmBanks", tpmBanks);
        JsonOut.field(g, "logBanks", logBanks);
        JsonOut.field(g, "boundary", boundary);
        JsonOut.field(g, "records", records);
        JsonOut.field(g, "planSha256", planSha256);
        JsonOut.field(g, "handOff", handOff);
        JsonOut.field(g, "sidecarExtraFiles", sidecarExtraFiles);
        JsonOut.field(g, "notes", notes);
        g.writeEndObject();
    }

    /** Saves the parts of {@code plan} a later commit needs; the directory is created mode 0700. */
    public static void save(Plan plan, Map<String, byte[]> sidecarExtraFiles, java.util.Set<Integer> tolerateDivergent,
                            Path stateDir, Path dir, String tool, String tcti) throws IOException {
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
        PendingBoot p = new PendingBoot(FORMAT, Instant.now().toString(), tool, stateDir.toAbsolutePath().toString(), tcti,
                plan.payloadName(),
                Hex.of(plan.payloadAuthenticodeSha256()),
                new PolicyInfo(plan.policy().id(), List.copyOf(plan.policy().extendSet()), List.copyOf(plan.policy().boundarySet()),
                        List.copyOf(new TreeSet<>(tolerateDivergent))),
                plan.toolVersion(), plan.firmwareLogSource(), names(plan.tpmBanks()), names(plan.logBanks()),
                new BoundaryInfo(field(data, "tool").replaceFirst("^kexec-measured ", ""), field(data, "time"),
                        field(data, "nonce"), field(data, "payload"), field(data, "policy"),
                        List.copyOf(plan.policy().boundarySet()), data),
                records, planSha256(data, records), new HandOffInfo(h.cmdline(), h.devicePath(), Base64.getEncoder().encodeToString(h.loadOptions()),
                        sha256Hex(h.kernel()), sha256Hex(h.initrd())),
                extra, plan.notes());
        AtomicFiles.write(dir.resolve(FILE), JsonOut.pretty(p));
    }

    /** Reads a saved pending boot; every inconsistency is bad input naming the file. */
    public static PendingBoot read(Path dir) {
        Path f = dir.resolve(FILE);
        // only the one who prepared it may have written it: no link, nothing group- or world-writable
        for (Path x : List.of(dir, f)) {
            if (Files.isSymbolicLink(x)) throw new BadInputException(x + ": a symbolic link; a pending boot is never one");
            try {
                java.util.Set<java.nio.file.attribute.PosixFilePermission> perms =
                        Files.getPosixFilePermissions(x, java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE)
                        || perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE)) {
                    throw new BadInputException(x + ": writable by group or others ("
                            + java.nio.file.attribute.PosixFilePermissions.toString(perms) + "); a pending boot is written by root only");
                }
            } catch (UnsupportedOperationException | IOException e) {
                // no POSIX permissions, or no file: the read below says what is wrong
            }
        }
        PendingBoot p;
        try {
            p = Json.MAPPER.readValue(BoundedFiles.read(f, BoundedFiles.TEXT), PendingBoot.class);
        } catch (IOException e) {
            throw new BadInputException(f + ": not a pending boot: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (p == null) throw new BadInputException(f + ": not a pending boot: JSON null");
        if (!FORMAT.equals(p.format())) throw new BadInputException(f + ": format " + p.format() + ", expected " + FORMAT);
        p.validate(f);
        return p;
    }

    /**
     * Everything a commit takes from the file, checked in one pass before it reads a PCR, each fault bad input
     * naming the key (exit 2, nothing loaded or extended): the hook runs as root on whatever the pending
     * directory holds. First each value on its own (present, of its type, PCRs 0-23, event types within u32,
     * digests of their bank's size, strict hex and base64, known banks, origins and dispositions, absolute
     * paths, sidecar file names that stay in the sidecar directory), then what the values say together (an
     * extend set within the boundary set; the boundary's fields rebuild its data and its records come first,
     * one per boundary PCR; no later record tagged as a boundary, an OS record or an uncommitted hand-over; every disposition the one
     * the policy's sets give; a payload record after the boundary), and last {@code planSha256}: the records
     * in this order with this boundary, so a record removed, inserted, moved or changed is refused too.
     */
    private void validate(Path f) {
        // the values, one by one
        path(f, "stateDir", stateDir);
        path(f, "firmwareLogSource", firmwareLogSource);
        require(f, "created", created);
        require(f, "tool", tool);
        require(f, "payloadName", payloadName);
        require(f, "toolVersion", toolVersion);
        hex(f, "payloadAuthenticodeSha256", payloadAuthenticodeSha256, HashAlg.SHA256.size);
        require(f, "policy", policy);
        require(f, "policy.id", policy.id());
        pcrs(f, "policy.extendSet", policy.extendSet(), false);
        pcrs(f, "policy.boundarySet", policy.boundarySet(), true);
        pcrs(f, "policy.tolerateDivergent", policy.tolerateDivergent(), false);
        List<HashAlg> tpm = banks(f, "tpmBanks", tpmBanks);
        List<HashAlg> log = banks(f, "logBanks", logBanks);
        require(f, "boundary", boundary);
        for (String[] kv : new String[][]{{"toolVersion", boundary.toolVersion()}, {"policy", boundary.policy()},
                {"data", boundary.data()}}) {
            require(f, "boundary." + kv[0], kv[1]);
        }
        Instant time;
        try {
            time = Instant.parse(require(f, "boundary.time", boundary.time()));
        } catch (java.time.format.DateTimeParseException e) {
            throw bad(f, "boundary.time", "not an ISO-8601 instant: '" + boundary.time() + "'");
        }
        byte[] nonce = hex(f, "boundary.nonce", boundary.nonce(), 16);
        byte[] payload = hex(f, "boundary.payload", boundary.payload(), HashAlg.SHA256.size);
        pcrs(f, "boundary.pcrs", boundary.pcrs(), true);
        require(f, "handOff", handOff);
        require(f, "handOff.cmdline", handOff.cmdline());
        require(f, "handOff.devicePath", handOff.devicePath());
        base64(f, "handOff.loadOptions", handOff.loadOptions());
        hex(f, "handOff.kernelSha256", handOff.kernelSha256(), HashAlg.SHA256.size);
        hex(f, "handOff.initrdSha256", handOff.initrdSha256(), HashAlg.SHA256.size);
        if (sidecarExtraFiles != null) {
            for (Map.Entry<String, String> e : sidecarExtraFiles.entrySet()) {
                try {
                    Sidecar.checkExtraName(e.getKey());
                } catch (IllegalArgumentException x) {
                    throw bad(f, "sidecarExtraFiles", x.getMessage());
                }
                base64(f, "sidecarExtraFiles." + e.getKey(), e.getValue());
            }
        }
        if (notes != null) {
            for (int i = 0; i < notes.size(); i++) require(f, "notes[" + i + "]", notes.get(i));
        }
        require(f, "records", records);

        // what they say together
        if (!policy.boundarySet().containsAll(policy.extendSet())) {
            throw bad(f, "policy.extendSet", policy.extendSet() + " is not within the boundary set " + policy.boundarySet());
        }
        if (!new TreeSet<>(boundary.pcrs()).equals(new TreeSet<>(policy.boundarySet()))) {
            throw bad(f, "boundary.pcrs", boundary.pcrs() + " differ from the policy's boundary set " + policy.boundarySet());
        }
        if (!boundary.policy().equals(policy.id())) {
            throw bad(f, "boundary.policy", "'" + boundary.policy() + "' differs from policy.id '" + policy.id() + "'");
        }
        BoundaryEvent b;
        try {
            b = new BoundaryEvent(boundary.toolVersion(), time, nonce, payload, boundary.policy(), new TreeSet<>(boundary.pcrs()));
        } catch (RuntimeException e) {
            throw bad(f, "boundary", "its fields do not make a boundary event: " + e.getMessage());
        }
        if (!Arrays.equals(b.data(), boundary.data().getBytes(StandardCharsets.UTF_8))) {
            throw bad(f, "boundary.data", "differs from the event its fields rebuild");
        }
        java.util.Set<HashAlg> needed = java.util.EnumSet.noneOf(HashAlg.class);
        needed.addAll(tpm);
        needed.addAll(log);
        BootPolicy bp = new BootPolicy(new TreeSet<>(policy.extendSet()), new TreeSet<>(policy.boundarySet()), policy.id());
        List<Measurement> boundaryRecords = b.measurements(needed);
        if (records.size() <= boundaryRecords.size()) {
            throw bad(f, "records", records.size() + " records: the " + boundaryRecords.size() + " boundary records and no payload record");
        }
        for (int i = 0; i < records.size(); i++) {
            String at = "records[" + i + "]";
            RecordInfo r = require(f, at, records.get(i));
            if (r.pcr() < 0 || r.pcr() > 23) throw bad(f, at + ".pcr", r.pcr() + " is not a PCR index 0-23");
            if (r.eventType() < 0 || r.eventType() > 0xffffffffL) throw bad(f, at + ".eventType", r.eventType() + " is not a UINT32");
            require(f, at + ".digests", r.digests());
            Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
            for (Map.Entry<String, String> e : r.digests().entrySet()) {
                HashAlg a = alg(f, at + ".digests", e.getKey());
                d.put(a, hex(f, at + ".digests." + e.getKey(), e.getValue(), a.size));
            }
            // every record carries every bank the run hashed (the TPM's and the log's), as the plan made them
            if (!d.keySet().containsAll(needed)) {
                throw bad(f, at + ".digests", "banks " + d.keySet() + " lack some of the TPM's and the log's " + needed);
            }
            byte[] data = base64(f, at + ".eventData", r.eventData());
            Origin origin = known(f, at + ".origin", Origin.class, r.origin());
            PlannedRecord.Disposition disposition = known(f, at + ".disposition", PlannedRecord.Disposition.class, r.disposition());
            Measurement m = new Measurement(r.pcr(), (int) r.eventType(), d, data);
            if (i < boundaryRecords.size()) {
                Measurement want = boundaryRecords.get(i);
                boolean same = origin == Origin.BOUNDARY && m.pcr() == want.pcr() && m.eventType() == want.eventType()
                        && Arrays.equals(m.eventData(), want.eventData());
                for (HashAlg a : needed) same &= Arrays.equals(d.get(a), want.digests().get(a));
                if (!same) {
                    throw bad(f, at, "expected the boundary record for PCR " + want.pcr() + " (the boundary records come first,"
                            + " one per boundary PCR " + policy.boundarySet() + ", rebuilt from the boundary's fields)");
                }
            } else if (origin == Origin.BOUNDARY || Planner.carriesBoundaryTag(m)) {
                throw bad(f, at, "a boundary record after the boundary records");
            } else if (Planner.carriesOsRecordTag(m)) {
                throw bad(f, at, "an event with a tag reserved for the OS's records");
            } else if (Planner.carriesUncommittedTag(m)) {
                // the planner refuses it from the chain: a plan never holds it (mark-uncommitted would take a log
                // holding it for one already marked)
                throw bad(f, at, "an event with the uncommitted hand-over tag, which only the next system writes");
            }
            PlannedRecord.Disposition expected = !bp.extendsPcr(m.pcr()) ? PlannedRecord.Disposition.SIDE_RECORD
                    : m.eventType() == PlannedRecord.EV_NO_ACTION ? PlannedRecord.Disposition.LOG_ONLY : PlannedRecord.Disposition.EXTEND;
            if (disposition != expected) {
                throw bad(f, at + ".disposition", disposition + ", but the policy's sets make it " + expected);
            }
        }

        // the plan as a whole: each record above is one the planner could make, this says they are the ones it made
        hex(f, "planSha256", planSha256, HashAlg.SHA256.size);
        if (!planSha256.equals(planSha256(boundary.data(), records))) {
            throw bad(f, "planSha256", "the boundary and the " + records.size() + " records do not hash to it: a record was"
                    + " removed, inserted, moved or changed since boot --at-shutdown saved the plan");
        }
    }

    /**
     * {@code planSha256} (tcg2/pending.md): SHA-256 of {@value #PLAN_DIGEST_TAG}, a newline, the boundary's data, then
     * one line per record in order — {@code pcr eventType origin disposition eventData} and {@code bank:hex} for each
     * digest, banks by name, separated by single spaces, ending in a newline.
     */
    static String planSha256(String boundaryData, List<RecordInfo> records) {
        StringBuilder sb = new StringBuilder(PLAN_DIGEST_TAG).append('\n').append(boundaryData);
        for (RecordInfo r : records) {
            sb.append(r.pcr()).append(' ').append(r.eventType()).append(' ').append(r.origin()).append(' ')
                    .append(r.disposition()).append(' ').append(r.eventData());
            new TreeMap<>(r.digests()).forEach((bank, hex) -> sb.append(' ').append(bank).append(':').append(hex));
            sb.append('\n');
        }
        return Hex.of(HashAlg.SHA256.digest(sb.toString().getBytes(StandardCharsets.UTF_8)));
    }

    /** The first line hashed into {@code planSha256}. */
    static final String PLAN_DIGEST_TAG = "kexec-measured-plan/1";

    private static BadInputException bad(Path f, String field, String what) {
        return new BadInputException(f + ": " + field + ": " + what);
    }

    private static <T> T require(Path f, String field, T v) {
        if (v == null) throw bad(f, field, "missing");
        return v;
    }

    private static void path(Path f, String field, String v) {
        require(f, field, v);
        try {
            if (!Path.of(v).isAbsolute()) throw bad(f, field, "'" + v + "' is not an absolute path");
        } catch (java.nio.file.InvalidPathException e) {
            throw bad(f, field, "not a path: " + e.getReason());
        }
    }

    private static void pcrs(Path f, String field, List<Integer> pcrs, boolean nonEmpty) {
        require(f, field, pcrs);
        if (nonEmpty && pcrs.isEmpty()) throw bad(f, field, "empty");
        for (Integer p : pcrs) {
            if (p == null || p < 0 || p > 23) throw bad(f, field, p + " is not a PCR index 0-23");
        }
    }

    private static HashAlg alg(Path f, String field, String name) {
        try {
            return HashAlg.fromName(require(f, field, name));
        } catch (BadInputException e) {
            throw bad(f, field, e.getMessage());
        }
    }

    private static List<HashAlg> banks(Path f, String field, List<String> names) {
        require(f, field, names);
        List<HashAlg> out = new ArrayList<>();
        for (String n : names) {
            HashAlg a = alg(f, field, n);
            if (out.contains(a)) throw bad(f, field, n + " twice");
            out.add(a);
        }
        if (out.isEmpty()) throw bad(f, field, "empty");
        return out;
    }

    private static byte[] hex(Path f, String field, String v, int size) {
        require(f, field, v);
        byte[] b;
        try {
            b = Hex.parse(v);
        } catch (BadInputException e) {
            throw bad(f, field, e.getMessage());
        }
        if (b.length != size) throw bad(f, field, b.length + " bytes, expected " + size);
        return b;
    }

    private static byte[] base64(Path f, String field, String v) {
        require(f, field, v);
        try {
            return Base64.getDecoder().decode(v);
        } catch (IllegalArgumentException e) {
            throw bad(f, field, "not base64: " + e.getMessage());
        }
    }

    private static <E extends Enum<E>> E known(Path f, String field, Class<E> type, String v) {
        require(f, field, v);
        try {
            return Enum.valueOf(type, v);
        } catch (IllegalArgumentException e) {
            throw bad(f, field, "'" + v + "' is not one of " + Arrays.toString(type.getEnumConstants()));
        }
    }

    /** The hand-off, the records and the boundary as a plan on {@code head} and {@code before} (see {@link PlanRebase}). */
    public Plan plan(Path dir, EventLog head, PcrSet before, String pcrSource, List<String> notes) {
        try {
            return rebuild(dir, head, before, pcrSource, notes);
        } catch (IllegalArgumentException | IllegalStateException e) {
            // an invariant of the plan's parts (extend set within the boundary set, a boundary PCR
            // without a record, a record's banks): the file was checked key by key, this is what the
            // keys say together
            throw new BadInputException(dir.resolve(FILE) + ": not a plan this tool made: " + e.getMessage());
        }
    }

    private Plan rebuild(Path dir, EventLog head, PcrSet before, String pcrSource, List<String> notes) {
        BootPolicy policy = new BootPolicy(new TreeSet<>(policy().extendSet()), new TreeSet<>(policy().boundarySet()), policy().id());
        BoundaryEvent b = new BoundaryEvent(boundary.toolVersion(), Instant.parse(boundary.time()), Hex.parse(boundary.nonce()),
                Hex.parse(boundary.payload()), boundary.policy(), new TreeSet<>(boundary.pcrs()));
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
                new Plan.Stats(0, 0, 0, 0, 0, 0, new TreeMap<>()), this.notes == null ? List.of() : this.notes);
        return PlanRebase.rebase(saved, head, before, pcrSource, notes);
    }

    /** The TPM the preparation read, which the commit extends: {@code tcti}, or the default device in earlier files. */
    public String tctiOrDefault() {
        return tcti == null || tcti.isBlank() ? DEFAULT_TCTI : tcti;
    }

    public Map<String, byte[]> sidecarExtraFileBytes() {
        SortedMap<String, byte[]> m = new TreeMap<>();
        if (sidecarExtraFiles != null) sidecarExtraFiles.forEach((k, v) -> m.put(k, Base64.getDecoder().decode(v)));
        return m;
    }

    private static byte[] readChecked(Path f, String sha256) {
        // the saved plan, log and sidecar files: payload-sized at most (the plan holds event data of a whole chain)
        byte[] b = BoundedFiles.read(f, BoundedFiles.PAYLOAD);
        if (!sha256Hex(b).equals(sha256)) throw new BadInputException(f + ": SHA-256 differs from the pending boot's");
        return b;
    }

    /**
     * SHA-256 of the kernel, the initrd (tens of MiB) and the saved files, through {@link MultiHasher} (OpenSSL where
     * it loads): the JDK's own SHA-256 runs as C1-compiled Java under the launcher's flags (its SHA intrinsics are
     * C2's), ~1 s for a 31 MiB kernel + initrd on the development machine and ~20 s in the TCG guest of
     * tests/bench/kexec-vs-reboot.sh, once when the boot is prepared and again in the shutdown hook's commit.
     */
    private static String sha256Hex(byte[] b) {
        try (MultiHasher h = MultiHasher.create(List.of(HashAlg.SHA256))) {
            h.update(b, 0, b.length);
            return Hex.of(h.finish().get(HashAlg.SHA256));
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
