package org.kexecmeasured.cli;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.Divergence;
import org.kexecmeasured.boot.ExtendPipeline;
import org.kexecmeasured.boot.LoadOnly;
import org.kexecmeasured.boot.Loader;
import org.kexecmeasured.boot.Hashing;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.boot.Progress;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.policy.PolicyAtCommit;
import org.kexecmeasured.policy.PolicyDecider;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyParser;
import org.kexecmeasured.boot.TpmChangedException;
import org.kexecmeasured.eventlog.CurrentLog;
import org.kexecmeasured.kexec.FileModeLoader;
import org.kexecmeasured.kexec.HostMemory;
import org.kexecmeasured.kexec.ResumeLoader;
import org.kexecmeasured.uefi.RamRange;
import org.kexecmeasured.kexec.KexecException;
import org.kexecmeasured.kexec.KexecFileLoader.Target;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.JsonOut;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code boot}: a measured boot of a payload and the kexec hand-over ({@link MeasuredBoot}: plan →
 * decide → load → commit → outputs, then with {@code --exec} the kexec reboot). The load comes before
 * the commit: a kernel the running kernel refuses (a signature under lockdown, a non-bzImage) leaves the
 * TPM untouched. {@code --crash} loads a crash kernel and commits nothing ({@link LoadOnly#crash});
 * {@code --at-shutdown} loads now and leaves the commit to the system-shutdown hook
 * ({@link LoadOnly#prepareForShutdown}, {@code commit-pending}).
 */
public final class BootCommand implements Callable<Integer> {

    final PayloadOptions run = new PayloadOptions();
    String tcti;
    Path eventlogOut;
    Path stateDir;
    boolean noLoad;
    java.time.Duration lockWait;
    java.util.List<Integer> tolerateDivergent = new java.util.ArrayList<>();
    boolean exec;
    boolean crash;
    boolean atShutdown;
    boolean fullEmulation;
    String loadOptions;
    boolean json;
    Path policyFile;
    CommandSpec spec;

    static CommandSpec model(Services services) {
        BootCommand c = new BootCommand(services);
        CommandSpec s = CliModel.command(c, "boot",
                "Measured boot of PAYLOAD: plan the run in the emulator (the TPM is only",
                "read), decide (--policy, else the built-in policy), load the kernel the payload",
                "would start with kexec_file_load (its initrd carries the continued event log",
                "under /.extra/kexec-measured/), then commit: extend a kexec boundary and every",
                "measurement the payload made, in order. Start the loaded kernel with --exec,",
                "'systemctl kexec' or 'kexec-measured exec'. The built-in policy extends and bounds",
                "PCRs 4, 5, 9, 11, 12, 13 and refuses PCRs the firmware log does not explain.",
                "--no-load: measure and extend, load nothing. --crash: load a crash kernel, extend",
                "nothing. --at-shutdown: load now, commit in the system-shutdown hook right before",
                "'systemctl kexec' reboots (after systemd's own last measurements).");
        CliModel.exitCodes(s, "0:done", "1:the running kernel rejected the kernel image's signature; nothing was extended",
                "2:bad input, unusable TPM, an output that cannot be written, another run holds the state directory or "
                        + "the TPM, or the kernel refused the load (not root, no crash reservation, not a bzImage, …); nothing was extended",
                "3:refused by the policy (the built-in one refuses PCRs the firmware log does not explain); nothing was loaded or extended",
                "4:stopped after the TPM was changed (the journal and 'eventlog recover --complete' rebuild the whole log); "
                        + "the kernel was unloaded again",
                "70:internal error");
        c.run.addTo(s);
        s.addOption(CliModel.option("--tpm", String.class, () -> c.tcti, v -> c.tcti = v).paramLabel("TCTI").required(true)
                .description("TPM to extend (device:/dev/tpmrm0, swtpm:host=…,port=…)").build());
        s.addOption(CliModel.option("--eventlog-out", Path.class, () -> c.eventlogOut, v -> c.eventlogOut = v).paramLabel("FILE")
                .description("where to write the continued binary log (default: STATE/eventlog.bin)").build());
        s.addOption(CliModel.option("--state-dir", Path.class, () -> c.stateDir, v -> c.stateDir = v).paramLabel("DIR")
                .defaultValue("/run/kexec-measured/state")
                .description("journal, CEL-JSON, side record and sidecar (default: ${DEFAULT-VALUE})").build());
        s.addOption(CliModel.option("--no-load", boolean.class, () -> c.noLoad, v -> c.noLoad = v)
                .description("measure and extend, but load nothing (no kexec system call)").build());
        s.addOption(CliModel.option("--lock-wait", java.time.Duration.class, () -> c.lockWait, v -> c.lockWait = v)
                .paramLabel("DURATION").defaultValue("0s").converters(new DurationConverter())
                .description("how long to wait for another run holding the state directory or the TPM (both are locked",
                        "from the PCR read to the end of the commit); then refuse, exit 2 (default: ${DEFAULT-VALUE}: refuse at once)").build());
        s.addOption(CliModel.option("--tolerate-divergent", java.util.List.class, () -> c.tolerateDivergent,
                        v -> c.tolerateDivergent = v).auxiliaryTypes(Integer.class).paramLabel("PCRS").splitRegex(",")
                .description("PCRs (0-23, comma-separated) whose TPM value the firmware log may fail to explain;",
                        "any other divergent PCR is refused by the built-in policy (exit 3, nothing extended)").build());
        s.addOption(CliModel.option("--exec", boolean.class, () -> c.exec, v -> c.exec = v)
                .description("after the commit, sync and start the loaded kernel at once (reboot(LINUX_REBOOT_CMD_KEXEC); "
                        + "services are not stopped)").build());
        s.addOption(CliModel.option("--crash", boolean.class, () -> c.crash, v -> c.crash = v)
                .description("load as the crash kernel (KEXEC_FILE_ON_CRASH) and extend nothing: kdump loads must have no "
                        + "side effect").build());
        s.addOption(CliModel.option("--at-shutdown", boolean.class, () -> c.atShutdown, v -> c.atShutdown = v)
                .description("load now, extend nothing now: the system-shutdown hook commits right before 'systemctl kexec' "
                        + "reboots").build());
        s.addOption(CliModel.option("--full-emulation", boolean.class, () -> c.fullEmulation, v -> c.fullEmulation = v)
                .description("resume mode: run the payload (its kernel's EFI stub included) to the",
                        "return of its ExitBootServices in an emulated RAM laid out as this machine's, then load that state",
                        "with kexec_load and a purgatory that lets the payload go on natively (any EFI payload, e.g. memtest86+);",
                        "refused under lockdown (kexec_load is), before anything runs").build());
        s.addOption(CliModel.option("--load-options", String.class, () -> c.loadOptions, v -> c.loadOptions = v)
                .paramLabel("TEXT").description("the payload's LoadOptions, as a boot entry's optional data gives them "
                        + "(e.g. memtest86+'s 'console=ttyS0,115200'); a UKI ignores them under Secure Boot").build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON result").build());
        s.addOption(CliModel.option("--policy", Path.class, () -> c.policyFile, v -> c.policyFile = v).paramLabel("FILE")
                .description("policy file (YAML; schema in policy/): payload trust, PCR sets, sealed",
                        "secrets and their intents, re-authorization; the boot is refused (exit 3) before",
                        "any TPM write when the policy denies it (default: the built-in policy)").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    private final Services services;

    BootCommand(Services services) {
        this.services = services;
    }

    @Override
    public Integer call() throws IOException {
        checkOptions();
        // the policy first: a bad policy file stops the run before anything else happens
        PolicyFile policy = policyFile == null ? null : PolicyParser.read(policyFile);
        if (atShutdown && !Files.isExecutable(SHUTDOWN_HOOK)) {
            throw new BadInputException("--at-shutdown needs the system-shutdown hook " + SHUTDOWN_HOOK
                    + " (installed with the package): without it the kernel would start uncommitted");
        }
        try (PayloadFile bytes = run.open()) {
            // the boundary event's payload digest (SHA-256) is hashed from now on, on another thread, while the TPM is
            // opened and the firmware log and the PCRs are read; the boot's plan takes it (a load-only mode plans on its own)
            Hashing.EarlySha256 early = crash || atShutdown ? null : Hashing.startPayloadSha256(bytes.buffer(),
                    () -> bytes.checkUnchanged("before its bytes were hashed"));
            try {
                return call(policy, bytes, early);
            } finally {
                if (early != null) early.awaitQuietly(); // no thread reads the payload's mapping once it is closed
            }
        }
    }

    private Integer call(PolicyFile policy, PayloadFile bytes, Hashing.EarlySha256 early) throws IOException {
        CurrentLog.Choice chosenLog = run.log();
        Path log = chosenLog.path();
        String logNote = chosenLog.note();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // a progress line on the terminal while the boot works (nothing with --json or without a terminal)
        ProgressLine progress = ProgressLine.forSteps("boot", err, json);
        MeasuredBoot.Request req = run.request(bytes, log, stateDir, eventlogOut,
                        policy == null ? BootPolicy.BUILTIN_DEFAULT : PolicyDecider.bootPolicy(policy), lockWait, OsLogs.SYSTEM)
                .withProgress(progress.enabled() ? progress : Progress.NONE);
        if (loadOptions != null) req = req.withLoadOptions(loadOptions);
        MeasuredBoot.Result committed;
        ResumeLoader resume = null;
        if (fullEmulation) {
            // resume mode: refused under lockdown before the payload runs; the emulated RAM mirrors this machine's
            List<RamRange> ram = HostMemory.read();
            if (!noLoad) {
                resume = ResumeLoader.system(ram);
                try {
                    resume.checkAllowed();
                } catch (KexecException e) {
                    throw KexecCliErrors.of(e);
                }
            }
            req = req.resume(ram);
        }
        FileModeLoader loader = noLoad || fullEmulation ? null
                : new FileModeLoader(services.kexec().get(), crash ? Target.CRASH : Target.REBOOT);
        // a TpmChangedException (exit 4) and a RefusedException (exit 3) pass through to Main as they are
        try (Tpm tpm = services.tpm().open(tcti)) {
            // the policy's secrets are read (read-only TPM look-ups included) before the plan
            Decider chosen;
            try (progress) {
                if (policy != null) progress.step("reading the policy's secrets");
                chosen = policy == null ? Decider.builtin(new java.util.HashSet<>(tolerateDivergent))
                        : PolicyDecider.prepare(policy, bytes.buffer(), tpm);
                Decider decider = plan -> {
                    progress.print(() -> warnDivergent(err, plan));
                    return chosen.decide(plan);
                };
                if (crash || atShutdown) {
                    LoadOnly.Result r = crash ? LoadOnly.crash(req, tpm, decider, loader)
                            : LoadOnly.prepareForShutdown(req, tpm, decider, loader, PendingBoot.DEFAULT_DIR, launcher(),
                            policy == null ? new java.util.HashSet<>(tolerateDivergent) : policy.measurement().tolerateDivergent(), tcti,
                            policy != null,
                            // the commit decides again under the same policy file, on the PCRs it reads after systemd's
                            // last phases (a re-authorization is signed then, into the sidecar of the commit's second
                            // load); written only once plan, decision and load have passed, beside the pending boot
                            () -> PolicyAtCommit.prepare(PendingBoot.DEFAULT_DIR, policy, bytes.buffer()));
                    progress.close();
                    printLoadOnly(out, r, loader, logNote);
                    return 0;
                }
                committed = MeasuredBoot.run(req, tpm, decider, noLoad ? Loader.NONE : resume != null ? resume : loader, early);
            }
            JournalLog.fromEnvironment(System.getenv(), err).bootMeasured(committed, run.name());
            print(out, committed, loader, logNote);
        } catch (KexecException e) {
            // only the load throws it here, and the load comes before the commit (a failure after the
            // commit is a TpmChangedException): the TPM is as it was
            throw KexecCliErrors.of(e, " (nothing was loaded or extended)");
        } catch (TpmException e) {
            throw new IOException("TPM " + tcti + ": " + e.getMessage() + " (nothing was extended)", e);
        } catch (ExtendPipeline.ExtendFailedException e) {
            throw new IOException(e.getMessage() + " (nothing was extended)", e);
        } catch (EmulationException | GuestMemoryException e) {
            throw new BadInputException("emulation of " + run.payload + " failed: " + e.getMessage() + " (nothing was extended)", e);
        } finally {
            progress.close(); // also when the TPM could not be opened
        }
        if (exec) {
            JournalLog.fromEnvironment(System.getenv(), spec.commandLine().getErr()).kexecStarting(stateDir);
            try {
                services.kexec().get().exec();
            } catch (KexecException e) {
                // the boot is committed and its kernel loaded: only the start failed (the TPM did change)
                throw new TpmChangedException("the boot was committed (journal " + committed.commit().journal()
                        + ") and its kernel is loaded, but starting it failed: " + e.getMessage()
                        + "; start it with 'systemctl kexec' or 'kexec-measured exec'", committed.commit().journal(), null, e);
            }
        }
        return 0;
    }

    private void checkOptions() {
        int modes = (noLoad ? 1 : 0) + (crash ? 1 : 0) + (atShutdown ? 1 : 0);
        if (modes > 1) throw new BadInputException("--no-load, --crash and --at-shutdown exclude each other");
        if (fullEmulation && (crash || atShutdown)) {
            throw new BadInputException("--full-emulation (resume mode) loads with kexec_load for an immediate hand-over: "
                    + "not with --crash or --at-shutdown");
        }
        if (exec && modes > 0) {
            throw new BadInputException("--exec starts a kernel this run loaded and committed: not with --no-load, --crash or --at-shutdown");
        }
        for (int p : tolerateDivergent) {
            if (p < 0 || p > 23) throw new BadInputException("--tolerate-divergent: " + p + " is not a PCR index 0-23");
        }
        if (policyFile != null && !tolerateDivergent.isEmpty()) {
            throw new BadInputException("--tolerate-divergent applies to the built-in policy; with --policy the policy's "
                    + "measurement.tolerate-divergent decides");
        }
        checkEventlogOut(eventlogOut, stateDir, run.firmwareLog);
        run.checkDisk();
    }

    /** --disk and --boot-path, as boot and predict take them. */
    static void checkDisk(Path disk, String bootPath) {
        if (disk != null && !Files.exists(disk)) {
            throw new BadInputException("--disk " + disk + ": no such file or device");
        }
        if (bootPath != null && !bootPath.startsWith("\\")) {
            throw new BadInputException("--boot-path must start with \\, not '" + bootPath + "'");
        }
    }

    /**
     * {@code --eventlog-out} names a file of its own: not a symbolic link or a device (the log would land
     * elsewhere, or a device be written), not a file of the state directory other than the default
     * {@code STATE/eventlog.bin} (the journal, the firmware-log copy, the generations belong to the boot), not
     * the firmware log it continues. Real paths are compared, so {@code ..} and linked directories do not hide
     * one. Checked before the plan: a refusal changes nothing.
     */
    static void checkEventlogOut(Path out, Path stateDir, Path firmwareLog) {
        if (out == null) return;
        String what = "--eventlog-out " + out + ": ";
        if (Files.isSymbolicLink(out)) {
            throw new BadInputException(what + "a symbolic link; name the file itself (nothing was extended)");
        }
        if (Files.exists(out, java.nio.file.LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(out, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new BadInputException(what + "not a regular file (nothing was extended)");
        }
        Path real = realPath(out);
        Path state = realPath(stateDir);
        if (real.startsWith(state) && !real.equals(state.resolve("eventlog.bin"))) {
            throw new BadInputException(what + "inside the state directory " + stateDir + ", whose files belong to the boot"
                    + " (journal, firmware-log copy, generations); only its eventlog.bin, the default, may be named (nothing was extended)");
        }
        try {
            if (firmwareLog != null && Files.exists(out) && Files.exists(firmwareLog) && Files.isSameFile(out, firmwareLog)) {
                throw new BadInputException(what + "the firmware log the boot continues (nothing was extended)");
            }
        } catch (IOException e) {
            throw new BadInputException(what + "cannot compare it with " + firmwareLog + ": " + e.getMessage());
        }
    }

    /** The real path of a file that may not exist yet: its nearest existing ancestor resolved, the rest appended. */
    private static Path realPath(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return abs;
        try {
            return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
        } catch (IOException e) {
            throw new BadInputException(p + ": cannot resolve its real path: " + e.getMessage());
        }
    }

    /** The payload's bytes, after the checks every command that runs a payload makes. */
    static PayloadFile readPayload(Path payload, Path esp) throws IOException {
        if (esp != null && !Files.isDirectory(esp)) {
            throw new BadInputException("--esp " + esp + " is not a directory");
        }
        // names a directory, a missing file and one over KEXEC_MEASURED_MAX_PAYLOAD before reading
        long t0 = System.nanoTime();
        PayloadFile b = PayloadFile.open(payload);
        readMicros = (System.nanoTime() - t0) / 1000;
        payloadSource = b.describeSource();
        return b;
    }

    /** How this process's last payload is held ("mapped", "copy: why"): for the stats. */
    private static volatile String payloadSource;

    /** How long this process's last payload read took (a one-shot process reads one payload): for the stats. */
    private static volatile long readMicros;

    /**
     * The process's CPU time (user + system) and minor page faults so far, from /proc/self/stat (fields 10, 14,
     * 15; clock ticks of 10 ms), or -1 where it cannot be read: the bench's per-phase split beside wall time.
     */
    static long[] cpuMicrosAndFaults() {
        try {
            String st = new String(BoundedFiles.read(Path.of("/proc/self/stat"), BoundedFiles.TEXT),
                    java.nio.charset.StandardCharsets.US_ASCII);
            String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
            // f[0] is field 3 (state): field n is f[n - 3]
            long ticks = Long.parseLong(f[14 - 3]) + Long.parseLong(f[15 - 3]);
            return new long[]{ticks * 10_000, Long.parseLong(f[10 - 3])};
        } catch (RuntimeException e) {
            return new long[]{-1, -1};
        }
    }

    /** The system-shutdown hook {@code --at-shutdown} relies on (packaging/system-shutdown/). */
    static final Path SHUTDOWN_HOOK = Path.of("/usr/lib/systemd/system-shutdown/kexec-measured.shutdown");

    /** The launcher the hook runs: the one that started us (the launcher exports it), else the packaged one. */
    static String launcher() {
        String l = System.getenv("KEXEC_MEASURED_LAUNCHER");
        return l != null && !l.isBlank() ? l : "/usr/bin/kexec-measured";
    }

    private void print(PrintWriter out, MeasuredBoot.Result r, FileModeLoader loader, String logNote) throws IOException {
        if (json) {
            out.println(JsonOut.prettyString(toJson(r, loader, logNote)));
        } else {
            if (logNote != null) out.println("note: " + logNote);
            printText(out, r);
            if (r.loaded().loaded()) {
                out.println(exec ? "starting the loaded kernel (sync, then reboot(LINUX_REBOOT_CMD_KEXEC))"
                        : "start it with 'systemctl kexec' (orderly shutdown) or 'kexec-measured exec' (at once); "
                        + "'kexec-measured unload' drops it (the extends stay: the journal names them)");
            }
        }
        out.flush();
    }

    private void printLoadOnly(PrintWriter out, LoadOnly.Result r, FileModeLoader loader, String logNote) throws IOException {
        Plan p = r.plan();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mode", crash ? "crash" : "pending");
            m.put("banks", p.tpmBanks().stream().map(a -> a.tpmName).toList());
            m.put("firmwareRecords", p.firmwareRecords());
            m.put("plannedRecords", p.extendRecords().size());
            m.put("extended", List.of());
            m.put("loaded", r.loaded().loaded());
            m.put("load", r.loaded().describe());
            if (r.pendingDir() != null) m.put("pending", r.pendingDir().toString());
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("jvmStartMicros", jvmStartMicros());
            s.put("payloadSource", payloadSource);
            s.put("planMicros", p.stats().planMicros());
            s.put("emulationMicros", p.stats().emulationMicros());
            s.put("hashMicros", p.stats().hashMicros());
            s.put("loadMicros", r.loaded().loadMicros());
            s.put("planTpmCommandsByName", byName(p.stats().tpmCommands()));
            s.put("sinceProcessStartMicros", sinceProcessStartMicros());
            m.put("stats", s);
            if (logNote != null) m.put("logSource", logNote);
            m.put("notes", p.notes());
            out.println(JsonOut.prettyString(m));
        } else {
            if (logNote != null) out.println("note: " + logNote);
            out.printf("planned: %d record(s) after a boundary in PCRs %s; nothing was extended%n", p.extendRecords().size(),
                    p.policy().boundarySet());
            for (String n : p.notes()) out.println("note: " + n);
            out.println(r.loaded().describe());
            out.println(crash ? "the crash kernel starts on a panic; its initrd carries the log as it stood "
                    + "(no boundary: nothing is extended for a crash kernel)"
                    : "run 'systemctl kexec': the system-shutdown hook commits (" + r.pendingDir() + ") right before the kexec");
        }
        out.flush();
    }

    /**
     * From the process's start (the launcher's exec of the JVM) to this command: the JVM's start-up. Both ends on
     * the clock since boot in clock ticks of 10 ms (/proc/self/stat's starttime, /proc/uptime), or -1 where they
     * cannot be read: the JDK's process start instant adds the boot time, which /proc/stat gives in whole seconds
     * (up to a second off).
     */
    static long jvmStartMicros() {
        return STARTED;
    }

    private static final long STARTED = sinceProcessStartMicros();

    private static long sinceProcessStartMicros() {
        try {
            String up = new String(BoundedFiles.read(Path.of("/proc/uptime"), BoundedFiles.TEXT),
                    java.nio.charset.StandardCharsets.US_ASCII);
            String st = new String(BoundedFiles.read(Path.of("/proc/self/stat"), BoundedFiles.TEXT),
                    java.nio.charset.StandardCharsets.US_ASCII);
            // field 22 (starttime, clock ticks since boot); f[0] is field 3
            long startTicks = Long.parseLong(st.substring(st.lastIndexOf(')') + 2).split(" ")[22 - 3]);
            double now = Double.parseDouble(up.substring(0, up.indexOf(' ')));
            return Math.max(0, Math.round(now * 1e6) - startTicks * 10_000);
        } catch (RuntimeException e) {
            return -1;
        }
    }

    static void printText(PrintWriter o, MeasuredBoot.Result r) {
        Plan p = r.plan();
        o.printf("firmware log: %d records; TPM banks: %s%n", p.firmwareRecords(), p.tpmBanks().stream().map(a -> a.tpmName).toList());
        o.println(p.divergences().isEmpty() ? "firmware log: replays to the TPM's PCRs"
                : "firmware log: " + p.divergences().size() + " divergent PCR value(s), tolerated (see stderr)");
        o.printf("boundary: PCRs %s%n", p.policy().boundarySet());
        for (String reason : r.decision().reasons()) o.println("decision: " + reason);
        if (r.decision().record() != null) {
            for (com.fasterxml.jackson.databind.JsonNode sv : r.decision().record().path("secrets")) {
                o.printf("secret %s: %s — %s%n", sv.path("name").asText(), sv.path("verdict").asText(), sv.path("reason").asText());
            }
            com.fasterxml.jackson.databind.JsonNode ra = r.decision().record().path("reauthorization");
            if (!ra.isMissingNode()) {
                o.printf("re-authorization: %d signed polic(ies) for %s → %s%n", ra.path("signed").size(), ra.path("secrets"),
                        ra.path("file").asText());
            }
        }
        Map<Integer, Integer> perPcr = new TreeMap<>();
        for (ExtendPipeline.Extended e : r.commit().extended()) perPcr.merge(e.measurement().pcr(), 1, Integer::sum);
        o.printf("extended: %d event(s) %s; not extended (side record): %d%n", r.commit().extended().size(), perPcr,
                p.sideRecords().size());
        if (p.handOff() != null) {
            o.printf("hand-off: kernel %d bytes, initrd %d bytes, cmdline \"%s\"%n", p.handOff().kernel().length,
                    p.handOff().initrdSize(), p.handOff().cmdline());
        }
        StringBuilder by = new StringBuilder();
        r.stats().tpmCommands().forEach((cc, n) -> by.append(by.length() == 0 ? "" : ", ").append(n).append(' ')
                .append(CommandCode.name(cc).replaceFirst("^TPM2_", "")));
        o.printf("TPM commands: %d (%s)%n", total(r.stats().tpmCommands()), by);
        for (String n : p.notes()) o.println("note: " + n);
        MeasuredBoot.Outputs out = r.outputs();
        o.printf("event log: %s%ncel-json: %s%nside record: %s%njournal: %s%nsidecar: %s%n", out.eventlog(), out.celJson(),
                out.notExtended(), out.journal(), out.manifest().getParent());
        o.printf("generation: %s%n", out.generation());
        o.println(r.loaded().describe());
    }

    /** Divergent PCRs, before the decision: warnings on stderr (stdout stays the result). */
    private static void warnDivergent(PrintWriter err, Plan p) {
        for (Divergence d : p.divergences()) {
            err.printf("kexec-measured: warning: %s PCR %d disagrees with the firmware log (extended without a log entry): "
                    + "TPM %s, log %s%s%n", d.bank().tpmName, d.pcr(), Hex.of(d.tpm()), Hex.of(d.logReplay()),
                    d.explanation() == null ? "" : " (" + d.explanation() + ")");
        }
        err.flush();
    }

    static Map<String, Object> toJson(MeasuredBoot.Result r, FileModeLoader loader, String logNote) {
        Plan p = r.plan();
        Map<String, Object> m = new LinkedHashMap<>();
        if (logNote != null) m.put("logSource", logNote);
        m.put("banks", p.tpmBanks().stream().map(a -> a.tpmName).toList());
        m.put("firmwareRecords", p.firmwareRecords());
        m.put("divergent", p.divergences().stream().map(d -> ordered("bank", d.bank().tpmName, "pcr", d.pcr(),
                "tpm", Hex.of(d.tpm()), "logReplay", Hex.of(d.logReplay()))).toList());
        Map<String, Object> dec = new LinkedHashMap<>();
        dec.put("allowed", r.decision().allowed());
        dec.put("reasons", r.decision().reasons());
        if (r.decision().record() != null) dec.put("policy", r.decision().record());
        m.put("decision", dec);
        m.put("extended", r.commit().extended().stream().map(e -> ordered("seq", e.seq(), "pcr", e.measurement().pcr(),
                "eventType", e.measurement().eventType() & 0xffffffffL, "origin", e.origin().id())).toList());
        m.put("notExtended", p.sideRecords().size());
        Map<String, Object> s = new LinkedHashMap<>();
        SortedMap<Integer, Long> all = r.stats().tpmCommands();
        s.put("tpmCommands", total(all));
        s.put("pcrReadCommands", all.getOrDefault(CommandCode.PCR_READ, 0L));
        s.put("extendCommands", all.getOrDefault(CommandCode.PCR_EXTEND, 0L));
        s.put("tpmCommandsByName", byName(all));
        s.put("planTpmCommandsByName", byName(p.stats().tpmCommands()));
        s.put("wallMicros", r.stats().wallMicros());
        s.put("jvmStartMicros", jvmStartMicros());
        s.put("readMicros", readMicros);
        s.put("payloadSource", payloadSource);
        s.put("loadMicros", r.loaded().loadMicros()); // kexec_file_load or, in resume mode, kexec_load
        s.put("planMicros", p.stats().planMicros());
        s.put("commitMicros", r.commit().micros());
        s.put("emulationMicros", p.stats().emulationMicros());
        s.put("hashMicros", p.stats().hashMicros());
        s.put("hashBytes", p.stats().hashBytes());
        s.put("largeHashMicros", p.stats().largeHashMicros());
        s.put("largeHashBytes", p.stats().largeHashBytes());
        s.put("stepMicros", r.stats().stepMicros());
        long[] cpu = cpuMicrosAndFaults();
        s.put("processCpuMicros", cpu[0]);
        s.put("processMinorFaults", cpu[1]);
        // the process so far (launcher, JVM start, arguments, TPM opened, payload read, the run): what lies outside
        // jvmStartMicros + wallMicros is the command's own set-up before the run
        s.put("sinceProcessStartMicros", sinceProcessStartMicros());
        m.put("stats", s);
        MeasuredBoot.Outputs o = r.outputs();
        Map<String, Object> files = new LinkedHashMap<>();
        files.put("eventlog", o.eventlog().toString());
        files.put("celJson", o.celJson().toString());
        files.put("notExtended", o.notExtended().toString());
        files.put("journal", o.journal().toString());
        files.put("sidecarLog", o.sidecarLog().toString());
        files.put("manifest", o.manifest().toString());
        files.put("generation", o.generation().toString());
        m.put("outputs", files);
        m.put("notes", p.notes());
        m.put("loaded", r.loaded().loaded());
        m.put("load", r.loaded().describe());
        return m;
    }

    /** A map of the key/value pairs in this order ({@code Map.of}'s order changes from one JVM run to the next). */
    private static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }

    private static long total(Map<Integer, Long> byCode) {
        return byCode.values().stream().mapToLong(Long::longValue).sum();
    }

    /** {"TPM2_GetCapability": 1, …}, ordered by command code. */
    private static Map<String, Long> byName(SortedMap<Integer, Long> byCode) {
        Map<String, Long> m = new LinkedHashMap<>();
        byCode.forEach((cc, n) -> m.put(CommandCode.name(cc), n));
        return m;
    }
}
