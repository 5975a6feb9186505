package org.kexecmeasured.boot;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.Verification;
import org.kexecmeasured.eventlog.export.CelJson;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.uefi.EmulationResult;
import org.kexecmeasured.uefi.Emulator;
import org.kexecmeasured.uefi.EmulatorOptions;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * One measured boot of a payload, up to (not including) the kexec hand-over. Reads top to bottom:
 * read the firmware log → read the PCRs once → check the log against them → extend the kexec
 * boundary → run the payload in the emulator, extending what it measures → the Linux stub's PCR 9
 * events at the cut-over → write the log, CEL-JSON, side record and the {@code /.extra/} sidecar.
 *
 * <p>The firmware log is never replayed into the TPM; PCRs 0–3, 6, 7 are never touched unless a
 * policy asks (and then only after a boundary record).
 */
public final class MeasuredBoot {

    public static final String DEFAULT_FIRMWARE_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements";
    public static final String MANIFEST_FORMAT = "kexec-measured-manifest/1";
    public static final String SIDECAR_DIR = "initrd-extra";
    /** Inside the sidecar tree: what the next kernel's initrd finds under {@code /.extra/kexec-measured/}. */
    public static final String SIDECAR_SUBDIR = ".extra/kexec-measured";

    /** What to boot and where things go. {@code eventlogOut} null: {@code stateDir/eventlog.bin}. */
    public record Request(byte[] payload, String payloadName, Path esp, Path firmwareLog, Path stateDir,
                          Path eventlogOut, BootPolicy policy, String toolVersion, long timeBudgetMillis) {
    }

    /**
     * A PCR whose TPM value the firmware log does not explain (extended without a log entry), or
     * cannot explain ({@code explanation} says why, e.g. records without this bank's digest; may be null).
     */
    public record Divergence(HashAlg bank, int pcr, byte[] tpm, byte[] logReplay, String explanation) {
        public Divergence(HashAlg bank, int pcr, byte[] tpm, byte[] logReplay) {
            this(bank, pcr, tpm, logReplay, null);
        }
    }

    public record Outputs(Path eventlog, Path celJson, Path notExtended, Path journal, Path sidecarLog,
                          Path manifest) {
    }

    /** Numbers for the bench and for the TPM-command budget. */
    public record Stats(long tpmCommands, long pcrReadCommands, long extends_, long wallMicros, long emulationMicros,
                        long hashMicros, long hashBytes, long largeHashMicros, long largeHashBytes) {
    }

    public record Result(EventLog log, int firmwareRecords, List<HashAlg> banks, List<Divergence> divergent,
                         BoundaryEvent boundary, List<ExtendPipeline.Extended> extended,
                         List<ExtendPipeline.NotExtended> notExtended, HandOff handOff, Outputs outputs, Stats stats,
                         List<String> notes) {
    }

    /** The run stopped after some extends: the TPM failed or the payload did not reach the cut-over. */
    public static final class BootFailedException extends RuntimeException {
        private final Path partialLog;
        private final Path journal;

        BootFailedException(String message, Path partialLog, Path journal, Throwable cause) {
            super(message, cause);
            this.partialLog = partialLog;
            this.journal = journal;
        }

        /** The firmware log plus every acknowledged extend, or null if nothing was extended. */
        public Path partialLog() {
            return partialLog;
        }

        public Path journal() {
            return journal;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private MeasuredBoot() {
    }

    public static Result run(Request req, Tpm tpm) {
        long t0 = System.nanoTime();
        long c0 = tpm.commandCount();
        List<String> notes = new ArrayList<>();
        checkPayloadIsPe(req.payload());
        EventLog firmware = readFirmwareLog(req.firmwareLog());
        List<HashAlg> tpmBanks = tpm.banks();
        long c1 = tpm.commandCount();
        Map<HashAlg, byte[][]> pcrs = readPcrsOnce(tpm, tpmBanks);
        long pcrReads = tpm.commandCount() - c1;
        List<Divergence> divergent = divergentPcrs(firmware, pcrs, notes);
        Hashing hashing = new Hashing(hashBanks(tpmBanks, firmware, notes));
        byte[] payloadDigest = hashing.payloadAuthenticodeSha256(req.payload());
        Path journalFile = prepareStateDir(req.stateDir());
        BoundaryEvent boundary = boundaryEvent(req, payloadDigest);
        try (Journal journal = openJournal(journalFile, pcrs, req.policy())) {
            ExtendPipeline pipeline = new ExtendPipeline(tpm, tpmBanks, journal, journalFile, req.policy(),
                    firmware.toBuilder(), firmware.banks());
            ChainMeasurer measurer = new ChainMeasurer(hashing, pipeline, tpmBanks);
            EmulationResult emulation;
            try {
                extendBoundary(boundary, hashing, pipeline);
                emulation = runPayload(req, measurer);
                measureLinuxStub(emulation.handOff(), measurer);
            } catch (RuntimeException e) {
                throw stopped(req, pipeline, measurer, journalFile, e);
            }
            EventLog log = pipeline.log();
            Stats stats = new Stats(tpm.commandCount() - c0, pcrReads, pipeline.extended().size(),
                    (System.nanoTime() - t0) / 1000, emulation.emulationMicros(), hashing.nanos() / 1000,
                    hashing.bytes(), hashing.largeNanos() / 1000, hashing.largeBytes());
            Result partial = new Result(log, firmware.events().size(), tpmBanks, divergent, boundary,
                    pipeline.extended(), pipeline.notExtended(), emulation.handOff(), null, stats, notes);
            Outputs out = writeOutputs(req, partial, journalFile, payloadDigest, hashing);
            return new Result(log, firmware.events().size(), tpmBanks, divergent, boundary, pipeline.extended(),
                    pipeline.notExtended(), emulation.handOff(), out, stats, notes);
        } catch (IOException e) {
            throw new UncheckedIOException("journal " + journalFile + ": " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------ steps

    /** Refuses a payload that is not a well-formed PE before anything touches the TPM. */
    static void checkPayloadIsPe(byte[] payload) {
        if (!PeFile.looksLikePe(payload)) {
            throw new BadInputException("the payload is not a PE/COFF image (UKI, EFI application or EFI-stub kernel)");
        }
        PeFile.parse(payload);
    }

    static EventLog readFirmwareLog(Path file) {
        Path f = file != null ? file : Path.of(DEFAULT_FIRMWARE_LOG);
        byte[] b;
        try {
            b = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            throw new BadInputException(f + ": no firmware event log there (give one with --firmware-log)");
        } catch (java.nio.file.AccessDeniedException e) {
            throw new BadInputException(f + ": permission denied (the firmware log needs root)");
        } catch (IOException e) {
            throw new BadInputException(f + ": cannot read the firmware log: " + e.getMessage());
        }
        EventLogParser.Result r = EventLogParser.parseLenient(b);
        if (r.error() != null) {
            throw new BadInputException(f + ": " + r.error().getMessage());
        }
        return r.log();
    }

    /** All 24 PCRs of every active bank, in one readPcrs batch (the TPM's minimum of PCR_Read commands). */
    static Map<HashAlg, byte[][]> readPcrsOnce(Tpm tpm, List<HashAlg> banks) {
        List<Integer> all = IntStream.range(0, Replay.PCR_COUNT).boxed().toList();
        return tpm.readPcrs(PcrSelection.of(banks, all));
    }

    /** PCRs (of banks the log carries) whose TPM value is not the log's replay: reported, never hidden. */
    static List<Divergence> divergentPcrs(EventLog firmware, Map<HashAlg, byte[][]> pcrs, List<String> notes) {
        Map<HashAlg, byte[][]> known = new EnumMap<>(HashAlg.class);
        for (HashAlg a : firmware.banks()) if (pcrs.containsKey(a)) known.put(a, pcrs.get(a));
        for (HashAlg a : pcrs.keySet()) {
            if (!firmware.banks().contains(a)) {
                notes.add("the firmware log has no " + a.tpmName + " bank: that bank is extended but the log cannot verify it");
            }
        }
        List<Divergence> out = new ArrayList<>();
        if (known.isEmpty()) return out;
        Verification.Result v = Verification.verify(firmware, PcrSet.of(known));
        for (Verification.Mismatch m : v.mismatches()) {
            out.add(new Divergence(m.bank(), m.pcr(), m.expected(), m.replayed(), m.explanation()));
        }
        return out;
    }

    /** Every bank the TPM extends and the log carries: each digest is computed once per bank. */
    static List<HashAlg> hashBanks(List<HashAlg> tpmBanks, EventLog firmware, List<String> notes) {
        LinkedHashSet<HashAlg> s = new LinkedHashSet<>(tpmBanks);
        s.addAll(firmware.banks());
        for (HashAlg a : firmware.banks()) {
            if (!tpmBanks.contains(a)) notes.add("the log's " + a.tpmName + " bank is not active in the TPM: logged, not extended");
        }
        return List.copyOf(s);
    }

    /** The journal must not exist: an old one is evidence of a run that did not finish. */
    static Path prepareStateDir(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new BadInputException(dir + ": cannot create the state directory: " + e.getMessage());
        }
        Path j = dir.resolve("journal.jsonl");
        if (Files.exists(j)) {
            throw new BadInputException(j + " exists: a previous run did not finish or its evidence was not cleared; "
                    + "check it with 'kexec-measured eventlog recover --journal " + j + " --tpm TCTI', then move it away");
        }
        return j;
    }

    static BoundaryEvent boundaryEvent(Request req, byte[] payloadDigest) {
        // the Tpm interface offers no TPM2_GetRandom: the nonce comes from the host's SecureRandom
        byte[] nonce = new byte[16];
        new SecureRandom().nextBytes(nonce);
        return new BoundaryEvent(req.toolVersion(), Instant.now(), nonce, payloadDigest, req.policy().id(),
                req.policy().boundarySet());
    }

    static Journal openJournal(Path file, Map<HashAlg, byte[][]> pcrs, BootPolicy policy) throws IOException {
        Map<HashAlg, Map<Integer, byte[]>> start = new EnumMap<>(HashAlg.class);
        for (Map.Entry<HashAlg, byte[][]> e : pcrs.entrySet()) {
            Map<Integer, byte[]> m = new TreeMap<>();
            for (int p : policy.boundarySet()) m.put(p, e.getValue()[p]);
            start.put(e.getKey(), m);
        }
        return Journal.create(file, start);
    }

    static void extendBoundary(BoundaryEvent boundary, Hashing hashing, ExtendPipeline pipeline) {
        for (Measurement m : boundary.measurements(hashing.banks())) {
            pipeline.accept(m, ChainMeasurer.Origin.BOUNDARY);
        }
    }

    static EmulationResult runPayload(Request req, ChainMeasurer measurer) {
        EmulatorOptions.Builder b = EmulatorOptions.builder().measurer(measurer).timeBudgetMillis(req.timeBudgetMillis())
                .payloadName(req.payloadName());
        if (req.esp() != null) b.esp(req.esp());
        EmulationResult r = Emulator.run(req.payload(), b.build());
        if (r.handOff() == null) {
            throw new EmulationException("the payload did not start a Linux kernel");
        }
        return r;
    }

    static void measureLinuxStub(HandOff h, ChainMeasurer measurer) {
        measurer.linuxStub(h);
    }

    /** After some extends the PCRs have moved: write what reached the TPM, then fail loudly. */
    private static BootFailedException stopped(Request req, ExtendPipeline pipeline, ChainMeasurer measurer,
                                               Path journal, RuntimeException e) {
        RuntimeException cause = measurer.failure() != null ? measurer.failure() : e;
        Path partial = null;
        String logNote = "";
        if (!pipeline.extended().isEmpty()) {
            partial = req.stateDir().resolve("eventlog.partial.bin");
            try {
                writeAtomically(partial, pipeline.log().toBytes());
                logNote = "; the log of the " + pipeline.extended().size() + " acknowledged extend(s) is in " + partial;
            } catch (IOException io) {
                logNote = "; writing " + partial + " failed: " + io.getMessage();
                partial = null;
            }
        }
        String msg = cause instanceof ExtendPipeline.ExtendFailedException
                ? cause.getMessage()
                : "the run stopped after " + pipeline.extended().size() + " extend(s) (journal " + journal + "): "
                + (cause instanceof BadInputException ? "" : cause.getClass().getSimpleName() + ": ") + cause.getMessage();
        return new BootFailedException(msg + logNote, partial, journal, cause);
    }

    // ------------------------------------------------------------------ outputs

    static Outputs writeOutputs(Request req, Result r, Path journal, byte[] payloadDigest, Hashing hashing)
            throws IOException {
        Path dir = req.stateDir();
        Path logFile = req.eventlogOut() != null ? req.eventlogOut() : dir.resolve("eventlog.bin");
        byte[] logBytes = r.log().toBytes();
        writeAtomically(logFile, logBytes);
        Path cel = dir.resolve("eventlog.cel.json");
        writeAtomically(cel, JSON.writeValueAsBytes(CelJson.records(r.log())));
        Path side = dir.resolve("not-extended.json");
        writeAtomically(side, JSON.writeValueAsBytes(sideRecord(r)));
        Path sidecar = dir.resolve(SIDECAR_DIR).resolve(SIDECAR_SUBDIR);
        Files.createDirectories(sidecar);
        Path sidecarLog = sidecar.resolve("tpm2-event-log.bin");
        writeAtomically(sidecarLog, logBytes);
        Path manifest = sidecar.resolve("manifest.json");
        writeAtomically(manifest, JSON.writeValueAsBytes(manifest(req, r, payloadDigest, logBytes, hashing)));
        return new Outputs(logFile, cel, side, journal, sidecarLog, manifest);
    }

    private static Map<String, Object> sideRecord(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "kexec-measured-not-extended/1");
        m.put("rule", "events for PCRs outside the policy's extend set: neither extended nor in the replayable log");
        List<Object> l = new ArrayList<>();
        for (ExtendPipeline.NotExtended n : r.notExtended()) l.add(record(n.measurement(), n.origin(), null));
        m.put("events", l);
        return m;
    }

    private static Map<String, Object> record(Measurement x, ChainMeasurer.Origin origin, Long seq) {
        Map<String, Object> e = new LinkedHashMap<>();
        if (seq != null) e.put("seq", seq);
        e.put("pcr", x.pcr());
        e.put("eventType", String.format("0x%x", x.eventType()));
        e.put("origin", origin.name().toLowerCase(java.util.Locale.ROOT));
        Map<String, String> d = new LinkedHashMap<>();
        x.digests().forEach((a, v) -> d.put(a.tpmName, Hex.of(v)));
        e.put("digests", d);
        e.put("eventData", Base64.getEncoder().encodeToString(x.eventData()));
        return e;
    }

    private static Map<String, Object> manifest(Request req, Result r, byte[] payloadDigest, byte[] logBytes,
                                                Hashing hashing) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", MANIFEST_FORMAT);
        m.put("tool", "kexec-measured " + req.toolVersion());
        m.put("payload", Map.of("name", req.payloadName(), "authenticodeSha256", Hex.of(payloadDigest)));
        m.put("policy", Map.of("id", req.policy().id(), "extendSet", req.policy().extendSet(),
                "boundarySet", req.policy().boundarySet()));
        m.put("banks", r.banks().stream().map(a -> a.tpmName).toList());
        m.put("boundary", new String(r.boundary().data(), java.nio.charset.StandardCharsets.UTF_8));
        m.put("firmwareLog", Map.of("source", String.valueOf(req.firmwareLog() == null ? DEFAULT_FIRMWARE_LOG
                : req.firmwareLog()), "records", r.firmwareRecords()));
        List<Object> div = new ArrayList<>();
        for (Divergence d : r.divergent()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("bank", d.bank().tpmName);
            dm.put("pcr", d.pcr());
            dm.put("tpm", Hex.of(d.tpm()));
            dm.put("logReplay", Hex.of(d.logReplay()));
            if (d.explanation() != null) dm.put("explanation", d.explanation());
            div.add(dm);
        }
        m.put("divergentBeforeBoot", div);
        Map<String, Object> ev = new LinkedHashMap<>();
        ev.put("tpm2EventLog", "tpm2-event-log.bin");
        ev.put("sha256", Hex.of(HashAlg.SHA256.digest(logBytes)));
        ev.put("records", r.log().events().size());
        ev.put("addedRecords", r.extended().size());
        ev.put("notExtended", r.notExtended().size());
        m.put("eventLog", ev);
        // the values the PCRs of the extend set must have now: what the next kernel can check and seal against
        Map<String, Map<String, String>> expect = new LinkedHashMap<>();
        Map<HashAlg, byte[][]> replay = Replay.replay(r.log());
        for (Map.Entry<HashAlg, byte[][]> e : replay.entrySet()) {
            Map<String, String> b = new TreeMap<>();
            for (int p : req.policy().extendSet()) b.put(Integer.toString(p), Hex.of(e.getValue()[p]));
            expect.put(e.getKey().tpmName, b);
        }
        m.put("expectedPcrs", expect);
        if (r.handOff() != null) {
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("cmdline", r.handOff().cmdline());
            h.put("initrdSize", r.handOff().initrd().length);
            m.put("handOff", h);
        }
        m.put("notes", r.notes());
        return m;
    }

    static void writeAtomically(Path file, byte[] data) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            Files.write(tmp, data);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
