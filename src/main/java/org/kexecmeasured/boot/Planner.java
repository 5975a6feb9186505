package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogWriter;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.Verification;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.payload.uki.Uki;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.uefi.EmulationResult;
import org.kexecmeasured.uefi.Emulator;
import org.kexecmeasured.uefi.EmulatorOptions;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Le;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.function.Consumer;

/**
 * Makes a {@link Plan}: runs the payload in the emulator and records every measurement, with the TPM
 * untouched. Its only TPM use is the nonce of the boundary event ({@link PcrReader#random}); the PCR
 * values it starts from were read before ({@link MeasuredBoot#readPcrs}). Planned in order: the
 * boundary records (one per boundary PCR, ascending), then what the payload, the emulated firmware
 * and, at the cut-over, the Linux stub measure.
 *
 * <p>The rules of the boundary spec hold by construction here: a record for a boundary PCR before its
 * boundary record is an internal error, and a record carrying the boundary tag from anyone but the
 * planner is refused (bad input: a payload must not fake a new kexec generation). Records for PCRs
 * outside the extend set become side records; EV_NO_ACTION is logged, never extended.
 *
 * <p>As a {@link ChainMeasurer.Sink} the planner keeps the log the run is writing, which the guest
 * reads through GetEventLog and the final-events table exactly as after a commit.
 */
public final class Planner implements ChainMeasurer.Sink {

    /** Bytes of the boundary event's nonce (kexec-boundary-event.md). */
    static final int NONCE_BYTES = 16;

    private final BootPolicy policy;
    private final List<HashAlg> tpmBanks;
    private final List<HashAlg> logBanks;
    private final EventLog.Builder log;
    private final Map<HashAlg, byte[][]> predicted = new LinkedHashMap<>();
    private final Set<Integer> bounded = new HashSet<>();
    private final List<PlannedRecord> records = new ArrayList<>();
    private final List<LoadedImage> images = new ArrayList<>();
    private final List<Consumer<byte[]>> appendListeners = new ArrayList<>();

    /** A planner fed by hand (tests of the rules); {@link #plan} is the way in. */
    Planner(BootPolicy policy, List<HashAlg> tpmBanks, EventLog firmware, PcrSet before) {
        this.policy = policy;
        this.tpmBanks = List.copyOf(tpmBanks);
        this.logBanks = firmware.banks();
        this.log = firmware.toBuilder();
        for (HashAlg a : tpmBanks) {
            byte[][] v = new byte[Replay.PCR_COUNT][];
            for (Map.Entry<Integer, byte[]> e : before.values().get(a).entrySet()) v[e.getKey()] = e.getValue().clone();
            predicted.put(a, v);
        }
    }

    /**
     * Plans the boot of {@code req.payload()} on top of {@code firmware}, starting from {@code before}
     * (all 24 PCRs of every bank of {@code pcrs}).
     *
     * @param pcrs      where {@code before} came from; only its RNG is used here (and its command counts for the stats)
     * @param t0        {@link System#nanoTime()} when the plan began (before the firmware log and the PCRs were read)
     * @param c0        {@code pcrs.commandCounts()} then: the stats count every command of the plan
     */
    public static Plan plan(MeasuredBoot.Request req, EventLog firmware, PcrSet before, PcrReader pcrs, long t0,
                            SortedMap<Integer, Long> c0) {
        return plan(req, firmware, before, pcrs, t0, c0, List.of());
    }

    /** As {@link #plan(MeasuredBoot.Request, EventLog, PcrSet, PcrReader, long, SortedMap)}, the plan's notes starting with {@code notes}. */
    public static Plan plan(MeasuredBoot.Request req, EventLog firmware, PcrSet before, PcrReader pcrs, long t0,
                            SortedMap<Integer, Long> c0, List<String> initialNotes) {
        return plan(req, firmware, before, pcrs, t0, c0, initialNotes, null, false);
    }

    /**
     * As above, the payload's SHA-256 Authenticode digest from {@code early} when it was started before the firmware
     * log and the PCRs were read ({@link MeasuredBoot#plan}; null: hashed here first); {@code sidecarFollows}: a
     * sidecar will be made from the plan, whose serialization is warmed meanwhile ({@link #warmTheTail}).
     */
    static Plan plan(MeasuredBoot.Request req, EventLog firmware, PcrSet before, PcrReader pcrs, long t0,
                     SortedMap<Integer, Long> c0, List<String> initialNotes, Hashing.EarlySha256 early,
                     boolean sidecarFollows) {
        List<HashAlg> tpmBanks = List.copyOf(before.values().keySet());
        List<String> notes = new ArrayList<>(initialNotes);
        List<Divergence> divergences = divergentPcrs(firmware, before, notes);
        Hashing hashing = new Hashing(hashBanks(tpmBanks, firmware, notes));
        // a broken read lease stops the run before OpenSSL reads a mapping a writer may truncate (SIGBUS)
        hashing.beforeLargeRead(() -> req.payload().checkUnchanged("before its bytes were hashed"));
        req.progress().step("hashing the payload");
        // The payload's SHA-256 Authenticode digest first (started before the PCRs were read when early is given, else
        // hashed on this thread now): the boundary event carries it. Its other banks are hashed on other threads
        // meanwhile, while this one plans the boundary and sets the emulator up;
        // the payload's own LoadImage measurement (the emulation's first step, before the image exists for the guest)
        // waits for every bank, so no payload code runs before it. A UKI's large sections are queued after them, to be
        // hashed ahead while the emulation (one thread) runs: the stub measures them only later. The hashing threads
        // (one per core) take these units in that order, two at a time whenever two are left.
        byte[] payloadDigest = hashing.payloadAuthenticodeSha256(req.payload().buffer(), early);
        knownSections(hashing, req.payload().buffer());
        BoundaryEvent boundary;
        Planner planner;
        ChainMeasurer measurer;
        EmulationResult emulation;
        try {
            boundary = boundaryEvent(req, payloadDigest, pcrs);
            planner = new Planner(req.policy(), tpmBanks, firmware, before);
            planner.planBoundary(boundary, hashing);
            measurer = new ChainMeasurer(hashing, planner, tpmBanks);
            if (sidecarFollows) warmTheTail(hashing, planner.log());
            emulation = runPayload(req, measurer);
        } catch (RuntimeException | Error e) {
            // No thread may still read the payload's mapping once the command closes the payload and releases its
            // read lease (a writer may then truncate it at once: SIGBUS in OpenSSL, no exit code): the sections
            // hashed ahead and the payload's banks end first.
            hashing.awaitPrecomputations();
            hashing.awaitPayload(); // a failure of the payload's hashing is the cause when there is one
            throw e;
        }
        hashing.awaitPayload(); // a bare kernel is never LoadImage'd: its hashing's failure still stops the run
        hashing.awaitPrecomputations(); // a section the guest never measured is still being hashed ahead: see above
        if (emulation.handOff() != null) {
            measurer.linuxStub(emulation.handOff()); // in resume mode the kernel's own stub ran and measured
            // the kernel kexec will load: whatever loaded it (LoadImage, GRUB's own loader, a UKI section)
            planner.images.add(new LoadedImage(emulation.handOff().devicePath() == null || emulation.handOff().devicePath().isBlank()
                    ? "(no device path)" : emulation.handOff().devicePath(), LoadedImage.Kind.KERNEL, null, emulation.handOff().kernelView()));
        }

        Plan.Stats stats = new Plan.Stats((System.nanoTime() - t0) / 1000, emulation.emulationMicros(),
                hashing.nanos() / 1000, hashing.bytes(), hashing.largeNanos() / 1000, hashing.largeBytes(),
                CommandCode.sentSince(c0, pcrs.commandCounts()));
        return new Plan(req.payloadName(), payloadDigest, req.policy(), req.toolVersion(), req.firmwareLogSource(),
                firmware, pcrs.source(), tpmBanks, firmware.banks(), before, divergences, boundary, planner.records,
                PcrSet.of(planner.predicted), planner.log.build(), emulation.handOff(), stats, notes,
                emulation.postEbs(), planner.images);
    }

    // ------------------------------------------------------------------ steps

    /** PCRs (of banks the log carries) whose TPM value is not the log's replay: reported, never hidden. */
    static List<Divergence> divergentPcrs(EventLog firmware, PcrSet pcrs, List<String> notes) {
        Map<HashAlg, Map<Integer, byte[]>> known = new LinkedHashMap<>();
        for (HashAlg a : firmware.banks()) if (pcrs.values().containsKey(a)) known.put(a, pcrs.values().get(a));
        for (HashAlg a : pcrs.values().keySet()) {
            if (!firmware.banks().contains(a)) {
                notes.add("the firmware log has no " + a.tpmName + " bank: that bank is extended but the log cannot verify it");
            }
        }
        List<Divergence> out = new ArrayList<>();
        if (known.isEmpty()) return out;
        Verification.Result v = Verification.verify(firmware, new PcrSet(known));
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

    /**
     * The payload's sections as content the guest may measure from its own copy (systemd-stub hashes its
     * {@code .initrd} and {@code .linux} from the loaded image): guest data equal to one of them is remembered
     * by that host copy, so the same bytes served again (the initrd by LoadFile2) are compared, not hashed again.
     * Both lengths a measurer may use: VirtualSize (within the raw data) and SizeOfRawData.
     *
     * <p>The sections systemd-stub measures ({@link Uki#KNOWN_SECTIONS}) are also hashed ahead, at the length
     * it measures (VirtualSize, within the raw data), in the order it measures them (its list's, not the file's:
     * ukify puts {@code .linux} last in the file, and the stub measures it first), on the hashing threads while this
     * one sets the emulator up and runs the payload: the stub's measurement of its own copy then costs a byte
     * comparison, and the digest it needs first is the first one ready.
     */
    static void knownSections(Hashing hashing, ByteBuffer payload) {
        int size = payload.capacity();
        List<Section> measured = new ArrayList<>();
        for (Section s : PeFile.parse(payload).sections()) {
            long start = s.pointerToRawData();
            long raw = Math.min(s.sizeOfRawData(), Math.max(0, size - start));
            if (start >= size || raw < Hashing.LARGE) continue;
            hashing.knownContent(payload.slice((int) start, (int) raw));
            if (s.virtualSize() > 0 && s.virtualSize() < raw) {
                hashing.knownContent(payload.slice((int) start, (int) s.virtualSize()));
            }
            if (Uki.KNOWN_SECTIONS.contains(s.name())) measured.add(s);
        }
        measured.sort(java.util.Comparator.comparingInt(s -> Uki.KNOWN_SECTIONS.indexOf(s.name())));
        for (Section s : measured) {
            long start = s.pointerToRawData();
            long raw = Math.min(s.sizeOfRawData(), size - start);
            boolean shorter = s.virtualSize() > 0 && s.virtualSize() < raw;
            hashing.precompute(payload.slice((int) start, (int) (shorter ? s.virtualSize() : raw)));
        }
    }

    /**
     * The steps after the plan (sidecar, commit) write what no earlier step did; their first use costs class loading
     * and the first, interpreted runs of the streaming writers ({@link Sidecar#warmUp}). Done here on a daemon thread
     * while the emulation runs on this one, after every hashing unit has ended (it would only take CPU from them).
     * {@code sample}: the log as planned so far (firmware log and boundary records).
     */
    private static void warmTheTail(Hashing hashing, EventLog sample) {
        Thread t = new Thread(() -> {
            hashing.awaitPayloadQuietly();
            hashing.awaitPrecomputations();
            Sidecar.warmUp(sample);
        }, "warm-tail");
        t.setDaemon(true);
        t.start();
    }

    /** The boundary event; its nonce from the TPM's TPM2_GetRandom (a snapshot: the host RNG). */
    static BoundaryEvent boundaryEvent(MeasuredBoot.Request req, byte[] payloadDigest, PcrReader pcrs) {
        byte[] nonce = pcrs.random(NONCE_BYTES);
        return new BoundaryEvent(req.toolVersion(), Instant.now(), nonce, payloadDigest, req.policy().id(),
                req.policy().boundarySet());
    }

    private void planBoundary(BoundaryEvent boundary, Hashing hashing) {
        for (Measurement m : boundary.measurements(hashing.banks())) accept(m, Origin.BOUNDARY);
    }

    /** Runs the payload to the Linux cut-over; the measurer's first failure is the cause when there is one. */
    static EmulationResult runPayload(MeasuredBoot.Request req, ChainMeasurer measurer) {
        EmulatorOptions.Builder b = EmulatorOptions.builder().measurer(measurer).timeBudgetMillis(req.timeBudgetMillis())
                .payloadName(req.payloadName());
        if (req.esp() != null) b.esp(req.esp());
        if (req.disk() != null) b.disk(req.disk());
        if (req.bootPath() != null) b.bootPath(req.bootPath());
        if (req.resumeRam() != null) b.ram(req.resumeRam()).stopAtExitBootServices(true);
        if (req.loadOptions() != null) b.append(req.loadOptions());
        Progress progress = req.progress();
        // the live trace only for a listener: without one the emulator records calls as it always did
        if (progress != Progress.NONE) b.liveTrace(t -> progress.serviceCall(t.service(), t.index() + 1L));
        progress.step("emulating the payload");
        progress.emulationStarted(req.timeBudgetMillis());
        EmulationResult r;
        try {
            // the payload's buffer (a file mapping under a read lease, or a private copy) passes straight through: the
            // emulator places large sections without copying them, and its LoadImage finds the digests computed above
            // (the same bytes; a changed file breaks the lease, which the boot checks before anything irreversible)
            r = Emulator.run(req.payload().buffer(), b.build());
        } catch (RuntimeException e) {
            throw measurer.failure() != null ? measurer.failure() : e;
        } finally {
            progress.emulationEnded();
        }
        if (measurer.failure() != null) throw measurer.failure();
        if (req.resumeRam() != null) {
            if (r.postEbs() == null) {
                throw new EmulationException("the payload did not call ExitBootServices (resume mode needs the state "
                        + "where it returns)");
            }
        } else if (r.handOff() == null) {
            throw new EmulationException("the payload did not start a Linux kernel");
        }
        return r;
    }

    // ------------------------------------------------------------------ the sink

    @Override
    public void accept(Measurement m, Origin origin) {
        int pcr = m.pcr();
        if (origin != Origin.BOUNDARY && carriesBoundaryTag(m)) {
            throw new BadInputException("the " + origin.id().replace('_', ' ') + " tried to log an EV_EVENT_TAG event for PCR "
                    + pcr + " with the kexec boundary tag 0x" + Integer.toHexString(BoundaryEvent.TAG_ID)
                    + "; only kexec-measured writes boundary records (nothing was extended)");
        }
        if (carriesUncommittedTag(m)) {
            throw new BadInputException("the " + origin.id().replace('_', ' ') + " tried to log an EV_EVENT_TAG event for PCR "
                    + pcr + " with the uncommitted hand-over tag 0x" + Integer.toHexString(UncommittedHandOver.TAG_ID)
                    + " (tcg2/uncommitted-handover.md); only the next system's kexec-measured writes it (nothing was extended)");
        }
        if (carriesOsRecordTag(m)) {
            throw new BadInputException("the " + origin.id().replace('_', ' ') + " tried to log an EV_EVENT_TAG event for PCR "
                    + pcr + " with a tag reserved for the running OS's records (tcg2/os-records.md); nothing was extended");
        }
        if (origin == Origin.BOUNDARY) {
            bounded.add(pcr);
        } else if (policy.boundarySet().contains(pcr) && !bounded.contains(pcr)) {
            throw new IllegalStateException("a " + origin + " event for PCR " + pcr + " before its boundary record");
        }
        PlannedRecord r = new PlannedRecord(m, origin, disposition(m));
        records.add(r);
        switch (r.disposition()) {
            case EXTEND -> {
                for (Map.Entry<HashAlg, byte[]> d : r.tpmDigests(tpmBanks).entrySet()) {
                    byte[][] v = predicted.get(d.getKey());
                    v[pcr] = d.getKey().extend(v[pcr], d.getValue());
                }
                appendToLog(r);
            }
            case LOG_ONLY -> appendToLog(r);
            case SIDE_RECORD -> {
            }
        }
    }

    private PlannedRecord.Disposition disposition(Measurement m) {
        if (!policy.extendsPcr(m.pcr())) return PlannedRecord.Disposition.SIDE_RECORD;
        if (m.eventType() == PlannedRecord.EV_NO_ACTION) return PlannedRecord.Disposition.LOG_ONLY;
        return PlannedRecord.Disposition.EXTEND;
    }

    /** The tags "KXMI"/"KXMS" of tcg2/os-records.md: only the log head carries them, never a payload. */
    static boolean carriesOsRecordTag(Measurement m) {
        byte[] d = m.eventData();
        if (m.eventType() != BoundaryEvent.EV_EVENT_TAG || d.length < 4) return false;
        int tag = Le.i32(d, 0);
        return tag == org.kexecmeasured.eventlog.runtime.RuntimeRecord.Source.IMA.tagId
                || tag == org.kexecmeasured.eventlog.runtime.RuntimeRecord.Source.SYSTEMD.tagId;
    }

    static boolean carriesBoundaryTag(Measurement m) {
        return carriesTag(m, BoundaryEvent.TAG_ID);
    }

    /** The next system's uncommitted hand-over tag ({@link UncommittedHandOver}): never a record of a plan. */
    static boolean carriesUncommittedTag(Measurement m) {
        return carriesTag(m, UncommittedHandOver.TAG_ID);
    }

    private static boolean carriesTag(Measurement m, int tagId) {
        byte[] d = m.eventData();
        return m.eventType() == BoundaryEvent.EV_EVENT_TAG && d.length >= 4 && Le.i32(d, 0) == tagId;
    }

    private void appendToLog(PlannedRecord r) {
        Measurement m = r.measurement();
        log.append(m.pcr(), m.eventType(), r.logDigests(logBanks), m.eventData());
        if (!appendListeners.isEmpty()) {
            byte[] rec = EventLogWriter.record(log.last());
            for (Consumer<byte[]> l : appendListeners) l.accept(rec);
        }
    }

    @Override
    public void image(LoadedImage image) {
        images.add(image);
    }

    /** The log as planned so far: what the guest's GetEventLog copies. */
    @Override
    public byte[] logBytes() {
        return log.build().toBytes();
    }

    @Override
    public void onAppend(Consumer<byte[]> listener) {
        appendListeners.add(listener);
    }

    // ------------------------------------------------------------------ helpers

    List<PlannedRecord> records() {
        return List.copyOf(records);
    }

    EventLog log() {
        return log.build();
    }

    Map<HashAlg, byte[][]> predicted() {
        Map<HashAlg, byte[][]> m = new EnumMap<>(HashAlg.class);
        predicted.forEach((a, v) -> m.put(a, v.clone()));
        return m;
    }
}
