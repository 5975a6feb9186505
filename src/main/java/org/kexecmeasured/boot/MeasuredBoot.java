package org.kexecmeasured.boot;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventLogParser;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PcrTpm;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * One measured boot of a payload, up to the kexec hand-over. {@link #run} reads top to bottom:
 * <ol>
 *   <li>{@link Locks}: the state directory's, then the TPM's machine-wide lock, held to the end;</li>
 *   <li>{@code checkStateDir}: a finished journal left by a crash is archived; an unfinished one is
 *       evidence of a run that did not finish: refuse;</li>
 *   <li>{@link #plan} = {@code readFirmwareLog} → {@code readPcrs} (once) → {@link Planner#plan}
 *       (the emulator runs the payload; the TPM is only read); the payload's SHA-256 Authenticode digest (the
 *       boundary event's) is hashed on another thread from the plan's start, while the log and the PCRs are read;</li>
 *   <li>{@code decide}: the {@link Decider} allows or refuses (exit 3, nothing changed);</li>
 *   <li>{@link Sidecar#from}: log, CEL-JSON, side record and manifest, from the plan alone (their serialization
 *       was warmed on a second core during the emulation, {@link Sidecar#warmUp});</li>
 *   <li>{@code checkOutputs}: every file the rest will write can be written and fits;</li>
 *   <li>{@code load}: the {@link Loader} loads the kernel (reversible; {@link Loader#NONE} for
 *       {@code --no-load});</li>
 *   <li>{@link Commit#commit}: refuses a stale plan, then journal → extend → done → log, in the plan's
 *       order (the only TPM writes);</li>
 *   <li>{@code writeOutputs}: the log, CEL-JSON, side record and the {@code /.extra/} sidecar tree;</li>
 *   <li>{@code archive}: the journal is finished and moved to its {@link Generations generation}.</li>
 * </ol>
 * When the commit or the outputs fail, the load is undone ({@code unloadOnFailure}). The hand-over itself (executing the loaded kernel) comes after, in the kexec package. {@code boot
 * --no-load} is all of the above with {@link Loader#NONE}; the coming {@code predict} is {@link #plan}
 * (and a decision) alone.
 *
 * <p>Every check that can fail runs before the commit. The firmware log is never replayed into the
 * TPM; PCRs 0–3, 6, 7 are never touched unless a policy asks (and then only after a boundary record).
 */
public final class MeasuredBoot {

    public static final String DEFAULT_FIRMWARE_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements";
    /** The sidecar tree in the state directory; its {@link #SIDECAR_SUBDIR} is what the next initrd carries. */
    public static final String SIDECAR_DIR = "initrd-extra";
    /** Inside the sidecar tree: what the next kernel's initrd finds under {@code /.extra/kexec-measured/}. */
    public static final String SIDECAR_SUBDIR = ".extra/kexec-measured";

    /**
     * What to boot and where things go.
     *
     * @param firmwareLog null: {@link #DEFAULT_FIRMWARE_LOG}
     * @param stateDir    journal and outputs ({@link #run} only; a plan alone needs none)
     * @param eventlogOut null: {@code stateDir/eventlog.bin}
     * @param disk        null, or a GPT disk image or block device (read-only) the payload reads through BlockIo/DiskIo;
     *                    its EFI system partition is the ESP unless {@code esp} names a directory (shim → GRUB)
     * @param bootPath    null, or the payload's path on the ESP as a boot option names it ({@code \EFI\debian\shimx64.efi})
     * @param progress    told each step and the emulation's service calls ({@link Progress#NONE}: nobody listens)
     */
    public record Request(PayloadFile payload, String payloadName, Path esp, Path firmwareLog, Path stateDir,
                          Path eventlogOut, BootPolicy policy, String toolVersion, long timeBudgetMillis,
                          Duration lockWait, Path disk, String bootPath, OsLogs osLogs, Progress progress,
                          List<org.kexecmeasured.uefi.RamRange> resumeRam, String loadOptions) {
        public Request {
            if (timeBudgetMillis <= 0) throw new IllegalArgumentException("time budget must be positive");
            if (lockWait == null || lockWait.isNegative()) throw new IllegalArgumentException("lock wait must not be negative");
            if (osLogs == null) osLogs = OsLogs.NONE;
            if (progress == null) progress = Progress.NONE;
            if (resumeRam != null) resumeRam = List.copyOf(resumeRam);
        }

        /** A request nobody watches ({@link Progress#NONE}), in file mode (no resume capture). */
        public Request(PayloadFile payload, String payloadName, Path esp, Path firmwareLog, Path stateDir,
                       Path eventlogOut, BootPolicy policy, String toolVersion, long timeBudgetMillis,
                       Duration lockWait, Path disk, String bootPath, OsLogs osLogs) {
            this(payload, payloadName, esp, firmwareLog, stateDir, eventlogOut, policy, toolVersion, timeBudgetMillis,
                    lockWait, disk, bootPath, osLogs, Progress.NONE, null, null);
        }

        /** As above, the payload's bytes in memory ({@link PayloadFile#of}). */
        public Request(byte[] payload, String payloadName, Path esp, Path firmwareLog, Path stateDir,
                       Path eventlogOut, BootPolicy policy, String toolVersion, long timeBudgetMillis,
                       Duration lockWait, Path disk, String bootPath, OsLogs osLogs) {
            this(PayloadFile.of(payload), payloadName, esp, firmwareLog, stateDir, eventlogOut, policy, toolVersion, timeBudgetMillis,
                    lockWait, disk, bootPath, osLogs, Progress.NONE, null, null);
        }

        /**
         * Resume mode ({@code boot --full-emulation}): the payload runs in an emulated RAM laid out as
         * {@code ram} (the real machine's, {@code kexec.HostMemory}) until its ExitBootServices returns.
         */
        public Request resume(List<org.kexecmeasured.uefi.RamRange> ram) {
            return new Request(payload, payloadName, esp, firmwareLog, stateDir, eventlogOut, policy, toolVersion,
                    timeBudgetMillis, lockWait, disk, bootPath, osLogs, progress, ram, loadOptions);
        }

        /** The payload's LoadOptions (what a Boot#### entry's optional data gives it), e.g. memtest86+'s command line. */
        public Request withLoadOptions(String options) {
            return new Request(payload, payloadName, esp, firmwareLog, stateDir, eventlogOut, policy, toolVersion,
                    timeBudgetMillis, lockWait, disk, bootPath, osLogs, progress, resumeRam, options);
        }

        /**
         * A payload started from the ESP directory (or a synthesized ESP), no disk, no OS logs read
         * ({@link OsLogs#NONE}: the firmware log alone is continued); refuses at once when another run holds a lock.
         */
        public Request(byte[] payload, String payloadName, Path esp, Path firmwareLog, Path stateDir, Path eventlogOut,
                       BootPolicy policy, String toolVersion, long timeBudgetMillis) {
            this(PayloadFile.of(payload), payloadName, esp, firmwareLog, stateDir, eventlogOut, policy, toolVersion, timeBudgetMillis,
                    Duration.ZERO, null, null, OsLogs.NONE);
        }

        /** As the short form, reading the running OS's logs as {@code osLogs} says. */
        public Request(byte[] payload, String payloadName, Path esp, Path firmwareLog, Path stateDir, Path eventlogOut,
                       BootPolicy policy, String toolVersion, long timeBudgetMillis, OsLogs osLogs) {
            this(PayloadFile.of(payload), payloadName, esp, firmwareLog, stateDir, eventlogOut, policy, toolVersion, timeBudgetMillis,
                    Duration.ZERO, null, null, osLogs);
        }

        /** This request, its steps and the emulation's service calls told to {@code p}. */
        public Request withProgress(Progress p) {
            return new Request(payload, payloadName, esp, firmwareLog, stateDir, eventlogOut, policy, toolVersion,
                    timeBudgetMillis, lockWait, disk, bootPath, osLogs, p, resumeRam, loadOptions);
        }

        /** Where the continued log goes. */
        public Path eventlogFile() {
            return eventlogOut != null ? eventlogOut : stateDir.resolve("eventlog.bin");
        }

        /** The firmware log's path as written in the manifest. */
        public String firmwareLogSource() {
            return String.valueOf(firmwareLog == null ? DEFAULT_FIRMWARE_LOG : firmwareLog);
        }
    }

    /**
     * @param journal    the journal, archived with the firmware log's copy in {@code generation}
     * @param generation {@code STATE/generations/<n>-<nonce>/}: this boot's evidence
     */
    public record Outputs(Path eventlog, Path celJson, Path notExtended, Path journal, Path sidecarLog,
                          Path manifest, Path generation) {
    }

    /**
     * @param tpmCommands every TPM command of the run (plan and commit) by TPM_CC
     * @param stepMicros  the wall time of each step of {@link #run} in its order (plan, decide, sidecar,
     *                    checkOutputs, load, commit, writeOutputs, archive), empty where nobody timed them: under
     *                    emulation (the QEMU guest of tests/bench/kexec-vs-reboot.sh) the steps between plan and
     *                    commit cost seconds that the plan/commit/load split alone would not show
     */
    public record Stats(long wallMicros, SortedMap<Integer, Long> tpmCommands, Map<String, Long> stepMicros) {
        public Stats {
            stepMicros = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(stepMicros));
        }

        public Stats(long wallMicros, SortedMap<Integer, Long> tpmCommands) {
            this(wallMicros, tpmCommands, Map.of());
        }
    }

    public record Result(Plan plan, Decision decision, Loader.Loaded loaded, Commit.Result commit, Outputs outputs,
                         Stats stats) {
    }

    private MeasuredBoot() {
    }

    /** The whole boot: plan → decide → load → commit → write the outputs (see the class comment). */
    public static Result run(Request req, PcrTpm tpm, Decider decider, Loader loader) {
        return run(req, tpm, decider, loader, null);
    }

    /**
     * As {@link #run(Request, PcrTpm, Decider, Loader)}, the payload's SHA-256 Authenticode digest taken from
     * {@code early} when it was started on the payload's buffer before (the command starts it as soon as the payload
     * is open: {@link Hashing#startPayloadSha256}; null: the plan starts it). The caller waits for it
     * ({@link Hashing.EarlySha256#awaitQuietly}) before it closes the payload.
     */
    public static Result run(Request req, PcrTpm tpm, Decider decider, Loader loader, Hashing.EarlySha256 early) {
        long t0 = System.nanoTime();
        SortedMap<Integer, Long> c0 = tpm.commandCounts();
        checkStateDirIsADirectory(req.stateDir());
        try (Locks.Held state = Locks.stateDir(req.stateDir(), req.lockWait());
             Locks.Held tpmLock = Locks.tpm(tpm.tcti(), req.lockWait())) {
            checkStateDir(req.stateDir());
            // the payload was opened before the locks: a lease broken while the run waited for them (--lock-wait)
            // lets its writer truncate the file 45 s later, and reading the mapping then is SIGBUS
            req.payload().checkUnchanged("before the plan (the run waited for its locks)");
            org.kexecmeasured.util.StepClock clock = new org.kexecmeasured.util.StepClock();
            Plan plan = clock.time("plan", () -> plan(req, tpm, true, early));
            req.progress().step("deciding");
            Decision decision = clock.time("decide", () -> decide(plan, decider));
            Sidecar sidecar = clock.time("sidecar", () -> Sidecar.from(plan, decision));
            clock.time("checkOutputs", () -> {
                checkOutputs(req, plan, sidecar);
                return null;
            });
            if (loader != Loader.NONE) req.progress().step("loading the kernel");
            // the bytes planned and decided on are the file's still (a mapped payload's read lease holds)
            req.payload().checkUnchanged("before the kernel was loaded");
            Loader.Loaded loaded = clock.time("load", () -> load(loader, plan, sidecar));
            // and after the load, the last read of the payload's bytes, before the first TPM write
            unloadOnFailure(loaded, () -> {
                req.payload().checkUnchanged("before the TPM was extended");
                return null;
            });
            req.progress().step("extending the PCRs");
            Commit.Result committed = clock.time("commit", () -> unloadOnFailure(loaded,
                    () -> Commit.commit(plan, tpm, req.stateDir(), req.eventlogFile())));
            req.progress().step("writing the outputs");
            Outputs written = clock.time("writeOutputs", () -> unloadOnFailure(loaded, () -> writeOutputs(req, sidecar, committed)));
            Outputs outputs = clock.time("archive", () -> unloadOnFailure(loaded, () -> archive(req, written, committed)));
            return new Result(plan, decision, loaded, committed, outputs,
                    new Stats((System.nanoTime() - t0) / 1000, CommandCode.sentSince(c0, tpm.commandCounts()), clock.micros()));
        }
    }

    /**
     * The plan of a boot, with the PCRs read once from {@code pcrs} (a TPM, or a snapshot for an
     * offline prediction). Changes nothing anywhere.
     */
    public static Plan plan(Request req, PcrReader pcrs) {
        return plan(req, pcrs, false, null);
    }

    /**
     * As {@link #plan(Request, PcrReader)}, the payload's SHA-256 Authenticode digest taken from {@code early} when it
     * was started on the payload's buffer before ({@code predict} starts it as soon as the payload is open:
     * {@link Hashing#startPayloadSha256} with the payload's lease check on that thread; null, or another buffer's:
     * started here). A failure of that hashing is the plan's error, as itself. The caller waits for it
     * ({@link Hashing.EarlySha256#awaitQuietly}) before it closes the payload.
     */
    public static Plan plan(Request req, PcrReader pcrs, Hashing.EarlySha256 early) {
        return plan(req, pcrs, false, early);
    }

    /**
     * As {@link #plan(Request, PcrReader)}; {@code sidecarFollows}: a sidecar is made from the plan (a boot, a load),
     * so the planner warms its serialization on a second core meanwhile ({@link Sidecar#warmUp}); {@code early}: the
     * payload's SHA-256 started before (null, or another buffer's: started here).
     */
    static Plan plan(Request req, PcrReader pcrs, boolean sidecarFollows, Hashing.EarlySha256 early) {
        long t0 = System.nanoTime();
        SortedMap<Integer, Long> c0 = pcrs.commandCounts();
        checkPayloadIsPe(req.payload().buffer());
        // the boundary event's payload digest (SHA-256, whatever the banks) is hashed on another thread while the
        // firmware log and the PCRs are read: off the plan's critical path (the lease is checked before it reads)
        Hashing.EarlySha256 sha256 = early != null && early.hashes(req.payload().buffer()) ? early
                : Hashing.startPayloadSha256(req.payload().buffer(), () -> req.payload().checkUnchanged("before its bytes were hashed"));
        try {
            req.progress().step("reading the firmware log and the PCRs");
            EventLog firmware = readFirmwareLog(req.firmwareLog());
            PcrSet before = readPcrs(pcrs);
            List<String> notes = new ArrayList<>();
            EventLog head = readOsLogs(req.osLogs(), firmware, before, notes);
            return Planner.plan(req, head, before, pcrs, t0, c0, notes, sha256, sidecarFollows);
        } catch (RuntimeException | Error e) {
            sha256.awaitQuietly(); // no thread of a failed plan goes on reading the payload's mapping
            throw e;
        }
    }

    // ------------------------------------------------------------------ steps

    /**
     * The log the plan continues: the firmware log (or the continued log of an earlier generation) and
     * the running OS's records it lacks (IMA, systemd), placed before the boundary ({@code tcg2/os-records.md}).
     */
    public static EventLog readOsLogs(OsLogs logs, EventLog firmware, PcrSet before, List<String> notes) {
        java.util.LinkedHashSet<HashAlg> banks = new java.util.LinkedHashSet<>(before.values().keySet());
        banks.addAll(firmware.banks());
        return logs.head(firmware, List.copyOf(banks), notes);
    }

    static void checkStateDirIsADirectory(Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new BadInputException(dir + ": the state directory is not a directory");
        }
    }

    /**
     * A journal in the state directory is either finished (a run or a recovery completed it, and a
     * crash came before it was archived: it is archived now) or evidence of a run that did not finish:
     * refused until {@code eventlog recover --complete} settles it. A damaged one is refused naming its
     * line. Called with the state directory's lock held, so no other run creates one meanwhile.
     */
    public static void checkStateDir(Path dir) {
        checkStateDirIsADirectory(dir);
        Path j = dir.resolve(Journal.FILE_NAME);
        if (!Files.exists(j)) return;
        Journal.Contents c;
        try {
            c = Journal.load(j);
        } catch (Journal.UnstartedException e) {
            removeUnstarted(j);
            return;
        }
        if (!c.finished()) {
            throw new BadInputException(j + " exists: a previous run did not finish; settle it with 'kexec-measured eventlog "
                    + "recover --journal " + j + " --tpm TCTI --complete' (it rebuilds the whole log)");
        }
        try {
            Generations.archive(dir, c, c.origin().eventlogOut() == null ? null : Path.of(c.origin().eventlogOut()));
        } catch (IOException e) {
            throw new BadInputException(j + ": cannot archive the finished journal of an earlier run: " + e.getMessage());
        }
    }

    /** A journal without a complete header stands for no extend at all: it is removed (the boot or recovery holds the lock). */
    static void removeUnstarted(Path journal) {
        try {
            Files.delete(journal);
            AtomicFiles.syncDirectory(journal.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new BadInputException(journal + ": cannot remove the journal its run never started: " + e.getMessage());
        }
    }

    /**
     * Every file the commit and the outputs will write, checked before the first extend: its directory
     * exists (or is created) and takes a new file, and each file system has room for all of them (with
     * a block of slack per file). A failure names the file and the directory, and nothing is extended.
     * What can still fail afterwards (a disk filled meanwhile) loses nothing: the journal and the
     * firmware log's copy rebuild the log.
     */
    static void checkOutputs(Request req, Plan plan, Sidecar sidecar) {
        Path dir = req.stateDir();
        int log = sidecar.eventLog().length;
        Map<Path, Long> need = new java.util.LinkedHashMap<>();
        need.put(dir.resolve(Journal.FIRMWARE_LOG_FILE), (long) plan.firmwareLog().toBytes().length);
        need.put(dir.resolve(Journal.FILE_NAME), journalBytes(plan));
        need.put(req.eventlogFile(), (long) log);
        need.put(dir.resolve("eventlog.cel.json"), (long) sidecar.celJson().length);
        need.put(dir.resolve("not-extended.json"), (long) sidecar.sideRecordJson().length);
        Path tree = dir.resolve(SIDECAR_DIR).resolve(SIDECAR_SUBDIR);
        for (Map.Entry<String, byte[]> f : sidecar.initrdFiles().entrySet()) need.put(tree.resolve(f.getKey()), (long) f.getValue().length);
        need.put(dir.resolve(Generations.DIR).resolve("next").resolve(Generations.LOG_FILE), (long) log);
        Map<java.nio.file.FileStore, Long> perStore = new java.util.HashMap<>();
        // per existing directory: probed once, its file store looked up once (each look-up reads /proc/mounts)
        Map<Path, java.nio.file.FileStore> storeOf = new java.util.HashMap<>();
        Map<java.nio.file.FileStore, Long> freeOf = new java.util.HashMap<>();
        for (Map.Entry<Path, Long> e : need.entrySet()) {
            Path file = e.getKey().toAbsolutePath();
            Path parent = file.getParent();
            if (Files.isDirectory(file)) throw new BadInputException(file + ": is a directory, not a file it can write (nothing was extended)");
            Path existing = parent;
            while (existing != null && !Files.exists(existing)) existing = existing.getParent();
            if (existing == null || !Files.isDirectory(existing)) {
                throw new BadInputException(file + ": " + existing + " is not a directory (nothing was extended)");
            }
            long bytes = e.getValue() + 4096;
            try {
                java.nio.file.FileStore store = storeOf.get(existing);
                if (store == null) {
                    probeWritable(existing, file);
                    store = Files.getFileStore(existing);
                    storeOf.put(existing, store);
                }
                long total = perStore.merge(store, bytes, Long::sum);
                Long known = freeOf.get(store);
                long free = known != null ? known : store.getUsableSpace();
                freeOf.put(store, free);
                if (total > free) {
                    throw new BadInputException(file + ": no space left for it on " + store + " (" + existing + "): the "
                            + "outputs there need " + total + " bytes, " + free + " are free (nothing was extended)");
                }
            } catch (IOException io) {
                throw new BadInputException(file + ": cannot check the space for it: " + io.getMessage()
                        + " (nothing was extended)");
            }
        }
    }

    /** A directory takes a new file: made and removed again (write permission, a read-only mount, a full inode table). */
    private static void probeWritable(Path dir, Path forFile) {
        try {
            Path p = Files.createTempFile(dir, ".kexec-measured-probe", ".tmp");
            Files.delete(p);
        } catch (IOException e) {
            throw new BadInputException(forFile + ": cannot write in " + dir + ": " + e.getMessage()
                    + " (nothing was extended)");
        }
    }

    /** An upper bound of the journal's size: header, and per record its longest lines (intent with data, done). */
    static long journalBytes(Plan plan) {
        long n = 4096;
        for (PlannedRecord r : plan.records()) {
            long digests = 0;
            for (byte[] d : r.measurement().digests().values()) digests += 2L * d.length + 16;
            n += 4L * (r.measurement().eventData().length + 2) / 3 + digests + 400;
        }
        return n;
    }

    /** Refuses a payload that is not a well-formed PE before anything else. */
    static void checkPayloadIsPe(java.nio.ByteBuffer payload) {
        if (!PeFile.looksLikePe(payload)) {
            throw new BadInputException("the payload is not a PE/COFF image (UKI, EFI application or EFI-stub kernel)");
        }
        PeFile.parse(payload);
    }

    public static EventLog readFirmwareLog(Path file) {
        Path f = file != null ? file : Path.of(DEFAULT_FIRMWARE_LOG);
        if (Files.notExists(f)) {
            throw new BadInputException(f + ": no firmware event log there (give one with --firmware-log)");
        }
        if (Files.exists(f) && !Files.isReadable(f)) {
            throw new BadInputException(f + ": permission denied (the firmware log needs root)");
        }
        // capped: securityfs reports size 0, and --firmware-log /dev/zero must end at the limit, not in an OOM
        byte[] b = BoundedFiles.read(f, BoundedFiles.EVENTLOG);
        EventLogParser.Result r = EventLogParser.parseLenient(b);
        if (r.error() != null) {
            throw new BadInputException(f + ": " + r.error().getMessage());
        }
        return r.log();
    }

    /**
     * All 24 PCRs of every active bank in one read batch (the TPM's minimum of PCR_Read commands,
     * after one GetCapability for the banks). The plan's predictions start from these values.
     */
    public static PcrSet readPcrs(PcrReader pcrs) {
        List<HashAlg> banks = pcrs.banks();
        List<Integer> all = IntStream.range(0, Replay.PCR_COUNT).boxed().toList();
        Map<HashAlg, byte[][]> v = pcrs.readPcrs(PcrSelection.of(banks, all));
        for (HashAlg a : banks) {
            for (int p : all) {
                if (v.get(a) == null || v.get(a).length <= p || v.get(a)[p] == null) {
                    throw new BadInputException(pcrs.source() + " gave no value for " + a.tpmName + " PCR " + p);
                }
            }
        }
        return PcrSet.of(v);
    }

    public static Decision decide(Plan plan, Decider decider) {
        Decision d = decider.decide(plan);
        if (!d.allowed()) throw new RefusedException(d.reasons());
        return d;
    }

    public static Loader.Loaded load(Loader loader, Plan plan, Sidecar sidecar) {
        return loader.load(plan, sidecar);
    }

    /**
     * A step after the load: when it fails, the kernel is unloaded again, so no run that exits non-zero
     * leaves a kernel waiting for a hand-over (the step's failure stays the error reported). After the TPM
     * changed (exit 4) the message says so when the loaded kernel reports it is no longer loaded.
     */
    public static <T> T unloadOnFailure(Loader.Loaded loaded, java.util.function.Supplier<T> step) {
        try {
            return step.get();
        } catch (RuntimeException e) {
            boolean wasLoaded = loaded.loaded();
            try {
                loaded.unload();
            } catch (RuntimeException u) {
                e.addSuppressed(u);
            }
            if (e instanceof TpmChangedException t && wasLoaded && !loaded.loaded()) {
                throw new TpmChangedException(t.getMessage() + "; " + UNLOADED_AGAIN, t.journal(), t.partialLog(), t);
            }
            throw e;
        }
    }

    /** What a failure after the TPM changed adds when the kernel it loaded was unloaded. */
    public static final String UNLOADED_AGAIN = "the kernel loaded for kexec was unloaded again";

    // ------------------------------------------------------------------ outputs

    /** Written atomically once the commit is done; a failure here is after the TPM changed (exit 4). */
    public static Outputs writeOutputs(Request req, Sidecar sidecar, Commit.Result committed) {
        Path dir = req.stateDir();
        Path logFile = req.eventlogFile();
        Path cel = dir.resolve("eventlog.cel.json");
        Path side = dir.resolve("not-extended.json");
        Path tree = dir.resolve(SIDECAR_DIR).resolve(SIDECAR_SUBDIR);
        // each file replaced atomically and forced before its rename; each directory fsync'ed once after its
        // files, not per file: the outputs are promised durable when this step returns, not one by one
        Map<Path, byte[]> files = new java.util.LinkedHashMap<>();
        files.put(logFile, sidecar.eventLog());
        files.put(cel, sidecar.celJson());
        files.put(side, sidecar.sideRecordJson());
        for (Map.Entry<String, byte[]> f : new TreeMap<>(sidecar.initrdFiles()).entrySet()) files.put(tree.resolve(f.getKey()), f.getValue());
        for (Map.Entry<String, byte[]> f : sidecar.extraFiles().entrySet()) files.put(tree.getParent().resolve(f.getKey()), f.getValue());
        try {
            AtomicFiles.writeAll(files);
        } catch (IOException e) {
            throw new TpmChangedException("the commit is done (" + committed.extended().size() + " extend(s), journal "
                    + committed.journal() + ") but writing the outputs failed: " + e.getMessage(), committed.journal(),
                    null, e);
        }
        return new Outputs(logFile, cel, side, committed.journal(), tree.resolve(Sidecar.LOG_FILE),
                tree.resolve(Sidecar.MANIFEST_FILE), null);
    }

    /**
     * The boot is done: the journal is marked finished and archived with a copy of the log as a generation.
     * The commit knows where its journal ends ({@link Commit.Result#journalTail()}): {@code finished} is
     * appended after checking the file is still byte for byte what it wrote, without parsing it again.
     */
    static Outputs archive(Request req, Outputs out, Commit.Result committed) {
        try {
            Journal.finish(out.journal(), committed.journalTail());
            Path gen = Generations.archive(req.stateDir(), committed.journalTail().origin(), out.eventlog());
            return new Outputs(out.eventlog(), out.celJson(), out.notExtended(), gen.resolve(Journal.FILE_NAME),
                    out.sidecarLog(), out.manifest(), gen);
        } catch (IOException | BadInputException e) {
            throw new TpmChangedException("the boot is done and its outputs are written, but its journal " + out.journal()
                    + " could not be finished and archived: " + e.getMessage() + "; run 'kexec-measured eventlog recover "
                    + "--journal " + out.journal() + " --tpm TCTI --complete' before the next boot", out.journal(), null, e);
        }
    }
}
