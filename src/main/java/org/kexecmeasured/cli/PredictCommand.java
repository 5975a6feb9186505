package org.kexecmeasured.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.boot.Decision;
import org.kexecmeasured.boot.Divergence;
import org.kexecmeasured.boot.Hashing;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.boot.PlannedRecord;
import org.kexecmeasured.boot.Progress;
import org.kexecmeasured.policy.PolicyDecider;
import org.kexecmeasured.policy.PolicyEngine;
import org.kexecmeasured.policy.PolicyRecord;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyParser;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PublicAreaReader;
import org.kexecmeasured.tpm.TpmPublic;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.tpm.PcrSnapshot;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.uefi.EmulationException;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.StepClock;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;

/**
 * {@code predict}: what {@code boot --policy} would do, without doing it — the plan (the payload run
 * in the emulator against one reading of the PCRs, or a snapshot file), the predicted PCRs, a verdict
 * for every sealed secret of the policy, and the decision. Never writes to the TPM: it sends only
 * reads (GetCapability, PCR_Read, GetRandom, ReadPublic, NV_ReadPublic, NV_Read), which the JSON
 * output lists by command code.
 */
public final class PredictCommand implements Callable<Integer> {

    Path policyFile;
    final PayloadOptions run = new PayloadOptions();

    /** Where the PCRs come from: at most one of the two. */
    static final class PcrOrigin {
        String tcti;
        Path pcrs;
    }

    final PcrOrigin origin = new PcrOrigin();
    boolean json;
    CommandSpec spec;

    private final Services services;

    PredictCommand(Services services) {
        this.services = services;
    }

    static CommandSpec model(Services services) {
        PredictCommand c = new PredictCommand(services);
        CommandSpec s = CliModel.command(c, "predict",
                "Predict a measured kexec of PAYLOAD under a policy: the planned events and",
                "PCR values, a verdict for each sealed secret (reachable, unreachable, unknown,",
                "with the reason) and the policy's decision. Reads the TPM, never writes to it;",
                "with --pcrs it needs no TPM at all.");
        CliModel.exitCodes(s, "0:the policy allows the boot", "2:bad input (policy file, payload, secret source, TPM)",
                "3:the policy would refuse the boot", "70:internal error");
        s.addOption(CliModel.option("--policy", Path.class, () -> c.policyFile, v -> c.policyFile = v).paramLabel("FILE")
                .required(true).description("policy file (YAML; see policy/ for the schema)").build());
        c.run.addTo(s);
        s.addArgGroup(ArgGroupSpec.builder().exclusive(true)
                .addArg(CliModel.option("--tpm", String.class, () -> c.origin.tcti, v -> c.origin.tcti = v).paramLabel("TCTI")
                        .description("TPM to read (default: $TPM2TOOLS_TCTI, else device:/dev/tpmrm0)").build())
                .addArg(CliModel.option("--pcrs", Path.class, () -> c.origin.pcrs, v -> c.origin.pcrs = v).paramLabel("FILE")
                        .description("PCR snapshot (YAML/JSON: banks → PCR → hex), for an offline prediction").build())
                .build());
        s.addOption(CliModel.option("--json", boolean.class, () -> c.json, v -> c.json = v).description("JSON result").build());
        c.spec = s;
        return CliModel.withStandardHelp(s);
    }

    @Override
    public Integer call() throws IOException {
        StepClock clock = new StepClock();
        // the policy's YAML is parsed on a second core while the payload is opened and the PCR source read (the TPM
        // opened: reads only); its errors are still the first reported — every step up to the join below hands its
        // own failure to parsing.firstOf, which reports the policy's error instead when there is one
        SideTask<PolicyFile> parsing = SideTask.start("policy-parse", () -> PolicyParser.read(policyFile));
        if (!Files.isRegularFile(run.payload) || origin.pcrs != null && !Files.isRegularFile(origin.pcrs)) {
            // a FIFO or a terminal (/dev/stdin, e.g. tpm2_pcrread piped into --pcrs) is read once, and its opening and
            // reading wait for a writer: a policy error is not held back by that (nor is the stream consumed first), so
            // it is waited for before the payload and the snapshot are read
            parsing.join();
        }
        PayloadFile bytes;
        try {
            run.checkDisk();
            bytes = run.open();
        } catch (Throwable e) {
            throw parsing.firstOf(e);
        }
        try (bytes) {
            // the boundary event's payload digest (SHA-256) is hashed from now on, on another thread (the payload's
            // read lease checked there before it reads), while the PCR source is opened and the policy's sources
            // read; the plan takes it, and its failure is the plan's error
            Hashing.EarlySha256 early = startEarly.apply(bytes.buffer(), () -> bytes.checkUnchanged("before its bytes were hashed"));
            try {
                clock.mark("payload");
                return call(parsing, bytes, early, clock);
            } finally {
                early.awaitQuietly(); // no thread reads the payload's mapping once it is closed
            }
        }
    }

    /** How the payload's early SHA-256 is started: {@link Hashing#startPayloadSha256} (tests wrap it). */
    static volatile BiFunction<ByteBuffer, Runnable, Hashing.EarlySha256> startEarly = Hashing::startPayloadSha256;

    private Integer call(SideTask<PolicyFile> parsing, PayloadFile bytes, Hashing.EarlySha256 early, StepClock clock)
            throws IOException {
        Path log = policyFirst(parsing, () -> run.log().path());
        // a progress line on the terminal while the prediction works (nothing with --json or without a terminal)
        ProgressLine progress = ProgressLine.forSteps("predict", spec.commandLine().getErr(), json);
        Report report;
        try (progress) {
            if (origin.pcrs != null) {
                PcrSnapshot snapshot = policyFirst(parsing, () -> PcrSnapshot.read(origin.pcrs));
                clock.mark("pcrSource");
                PolicyFile policy = parsing.join();
                clock.mark("policy");
                report = predict(policy, bytes, request(policy, bytes, log, progress), snapshot, null, early, clock);
            } else {
                try (Tpm tpm = policyFirst(parsing, () -> services.tpm().open(origin.tcti))) {
                    SortedMap<Integer, Long> c0 = tpm.commandCounts();
                    clock.mark("pcrSource");
                    PolicyFile policy = parsing.join();
                    clock.mark("policy");
                    report = predict(policy, bytes, request(policy, bytes, log, progress), tpm, tpm, early, clock);
                    report = report.withCommands(byName(CommandCode.sentSince(c0, tpm.commandCounts())));
                } catch (TpmException e) {
                    throw new IOException("TPM " + origin.tcti + ": " + e.getMessage() + " (nothing was changed)", e);
                }
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) out.println(Json.PRETTY.writeValueAsString(report));
        else printText(out, report);
        out.flush();
        return report.decision().allowed() ? 0 : Main.EXIT_POLICY_DENIED;
    }

    /** A step before the policy is needed: its failure is reported unless the policy's own comes first. */
    private static <T> T policyFirst(SideTask<PolicyFile> parsing, Callable<T> step) throws IOException {
        try {
            return step.call();
        } catch (Throwable e) {
            throw parsing.firstOf(e);
        }
    }

    /**
     * The same request boot makes: the log boot would continue, and with the live TPM the running OS's records (IMA,
     * systemd) boot would place before the boundary; a PCR snapshot may come from elsewhere.
     */
    private MeasuredBoot.Request request(PolicyFile policy, PayloadFile bytes, Path log, ProgressLine progress) {
        return run.request(bytes, log, null, null, PolicyDecider.bootPolicy(policy), java.time.Duration.ZERO,
                        origin.pcrs != null ? OsLogs.NONE : OsLogs.SYSTEM)
                .withProgress(progress.enabled() ? progress : Progress.NONE);
    }

    /**
     * The PCR source given to {@link PolicyEngine#prepare} when it runs beside the plan: the policy names no secret
     * that lives in the TPM ({@link PolicyEngine#preparationReadsTpm}), so nothing reads through it, and the plan
     * alone talks to the TPM meanwhile (a TPM connection carries one command at a time).
     */
    private static final PublicAreaReader NO_TPM_BESIDE_THE_PLAN = new PublicAreaReader() {
        @Override
        public TpmPublic readPublic(int handle) {
            throw refused();
        }

        @Override
        public NvPublic nvReadPublic(int nvIndex) {
            throw refused();
        }

        @Override
        public byte[] nvReadAsOwner(int nvIndex, int size) {
            throw refused();
        }

        private IllegalStateException refused() {
            return new IllegalStateException("the policy's sources read the TPM beside the plan");
        }
    };

    private Report predict(PolicyFile policy, PayloadFile bytes, MeasuredBoot.Request req, PcrReader pcrs, Tpm tpm,
                           Hashing.EarlySha256 early, StepClock clock) throws IOException {
        req.progress().step("reading the policy's secrets");
        // the secrets' sources (LUKS2 headers, sealed objects, JWEs, certificates, the signing key) are read on a second
        // core while the plan runs on this one; a policy with secrets in the TPM reads them first, here, as the plan
        // reads the same TPM. A source's error is reported before anything the plan says (bad input stops the
        // prediction as it did when the sources were read first): the plan's own failure waits for the sources.
        SideTask<Timed<PolicyEngine.Prepared>> beside = null;
        Timed<PolicyEngine.Prepared> prepared = null;
        if (tpm != null && PolicyEngine.preparationReadsTpm(policy)) {
            prepared = Timed.of(() -> PolicyEngine.prepare(policy, tpm, true));
            warmUpBesideThePlan();
        } else {
            PublicAreaReader none = tpm == null ? null : NO_TPM_BESIDE_THE_PLAN;
            beside = SideTask.start("policy-sources", () -> {
                Timed<PolicyEngine.Prepared> t = Timed.of(() -> PolicyEngine.prepare(policy, none, true));
                warmUpBesideThePlan();
                return t;
            });
        }
        clock.mark("sources");
        Plan plan;
        try {
            try {
                plan = MeasuredBoot.plan(req, pcrs, early);
            } catch (EmulationException | GuestMemoryException e) {
                throw new BadInputException("emulation of " + run.payload + " failed: " + e.getMessage(), e);
            }
        } catch (Throwable e) {
            if (prepared != null) prepared.value().close();
            if (beside == null) throw e;
            try {
                throw beside.firstOf(e);
            } finally {
                closeQuietly(beside);
            }
        }
        clock.mark("plan");
        if (beside != null) prepared = beside.join();
        clock.mark("sourcesWait");
        PolicyDecider decider = PolicyDecider.of(prepared.value(), bytes.buffer(), tpm);
        req.progress().step("evaluating the policy");
        long t2 = System.nanoTime();
        Decision d;
        // the re-authorization signs with the key read when the sources were; it is freed once the decision is made
        try (PolicyEngine.Prepared signing = prepared.value()) {
            d = decider.decide(plan);
        }
        long t3 = System.nanoTime();
        clock.mark("decide");
        // the prediction is of the bytes the file holds (a mapped payload's read lease held through the last read)
        bytes.checkUnchanged("before the prediction was reported");
        Report r = Report.of(policy, plan, decider, d, prepared.micros(), (t3 - t2) / 1000, bytes.describeSource());
        JournalLog.fromEnvironment(System.getenv(), spec.commandLine().getErr()).predicted(plan, r.decision(), policyFile.toString());
        clock.mark("report");
        return r.withSteps(steps(clock.micros(), decider.stepMicros()));
    }

    /** Frees the signing key the sources read beside a plan that failed kept (nothing when they failed themselves). */
    private static void closeQuietly(SideTask<Timed<PolicyEngine.Prepared>> beside) {
        try {
            beside.join().value().close();
        } catch (Throwable e) {
            // their own error is the one reported
        }
    }

    /**
     * What the main thread does after the plan for the first time that needs no result of it — the policy record's
     * and the report's JSON — done once beforehand with made-up values on another thread while the plan runs
     * ({@link Report#warmUp}): Jackson's serializers are built, the JVM has that code loaded and past its interpreted
     * first run. Not waited for. (Evaluating the policy on made-up PCRs as well saved the decision less main-thread
     * time than it cost the second core.)
     */
    private static void warmUpBesideThePlan() {
        SideTask.start("predict-warm-up", () -> {
            Report.warmUp();
            return null;
        });
    }

    /** A result and the wall time its computation took, wherever it ran. */
    record Timed<T>(T value, long micros) {
        static <T> Timed<T> of(java.util.function.Supplier<T> body) {
            long t0 = System.nanoTime();
            T v = body.get();
            return new Timed<>(v, (System.nanoTime() - t0) / 1000);
        }
    }

    /** The command's steps, decide's own steps after it as "decide.STEP". */
    static Map<String, Long> steps(Map<String, Long> command, Map<String, Long> decide) {
        Map<String, Long> m = new LinkedHashMap<>();
        command.forEach((k, v) -> {
            m.put(k, v);
            if (k.equals("decide")) decide.forEach((dk, dv) -> m.put("decide." + dk, dv));
        });
        return m;
    }

    static Map<String, Long> byName(SortedMap<Integer, Long> counts) {
        Map<String, Long> m = new LinkedHashMap<>();
        counts.forEach((cc, n) -> m.put(CommandCode.name(cc), n));
        return m;
    }

    /** {@code predict --json}. */
    @JsonPropertyOrder({"policy", "payload", "pcrSource", "banks", "events", "predictedPcrs", "divergences", "decision",
            "tpmCommands", "stats"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Report(PolicyInfo policy, PayloadInfo payload, String pcrSource, List<String> banks, List<Event> events,
                  Map<String, Map<String, String>> predictedPcrs, List<Divergent> divergences, PolicyRecord decision,
                  Map<String, Long> tpmCommands, Stats stats) {

        record PolicyInfo(String file, String id) {
        }

        record PayloadInfo(String name, String authenticodeSha256) {
        }

        /** One planned measurement: sequence, PCR, event type, origin, what becomes of it, digests of the TPM's banks. */
        @JsonPropertyOrder({"seq", "pcr", "eventType", "origin", "disposition", "digests"})
        record Event(int seq, int pcr, String eventType, String origin, String disposition, Map<String, String> digests) {
        }

        @JsonPropertyOrder({"bank", "pcr", "tpm", "logReplay", "explanation"})
        @JsonInclude(JsonInclude.Include.NON_NULL)
        record Divergent(String bank, int pcr, String tpm, String logReplay, String explanation) {
        }

        /**
         * Microseconds: reading the policy's sources (on whichever thread read them), the plan (of it emulation,
         * hashing), the evaluation; how the payload was held ("mapped" under a read lease, or "copy: why"); the wall
         * time of each step of the main thread in order (payload: open the payload, while the policy is parsed on a
         * second thread; pcrSource: open the TPM or read the snapshot; policy: wait for the policy's parse; sources:
         * read the secrets' sources, or start reading them beside the plan; plan; sourcesWait: wait for the sources
         * read beside the plan; decide and its own steps as decide.*; report: the report built), up to the output,
         * which is written after them.
         */
        @JsonPropertyOrder({"prepareMicros", "planMicros", "emulationMicros", "hashMicros", "hashBytes", "evaluateMicros", "payloadSource",
                "stepMicros"})
        @JsonInclude(JsonInclude.Include.NON_NULL)
        record Stats(long prepareMicros, long planMicros, long emulationMicros, long hashMicros, long hashBytes, long evaluateMicros,
                     String payloadSource, Map<String, Long> stepMicros) {
        }

        /**
         * Writes a made-up report of a typical size as the command writes the real one, for the side effect on the
         * JVM: Jackson's serializers of the report's types are built and its accessors past their first runs (Jackson
         * reads records through reflection, which generates an accessor class after a method's 15th call) before
         * the output needs them. Called beside the plan; a failure only loses that head start.
         */
        static void warmUp() {
            try {
                PolicyRecord decision = PolicyRecord.warmUp();
                List<Event> events = new ArrayList<>();
                for (int i = 1; i <= 24; i++) events.add(new Event(i, 11, "0x80000002", "payload", "extend", Map.of("sha256", "00")));
                Map<String, Map<String, String>> pcrs = Map.of("sha256", Map.of("11", "00"));
                Report r = new Report(new PolicyInfo("policy.yaml", "00"), new PayloadInfo("payload.efi", "00"), "warm-up",
                        List.of("sha256"), events, pcrs, List.of(new Divergent("sha256", 0, "00", "00", null)), decision,
                        Map.of("TPM2_PCR_Read", 1L), new Stats(0, 0, 0, 0, 0, 0, "mapped", Map.of("plan", 0L)));
                Json.PRETTY.writeValueAsString(r);
            } catch (IOException | RuntimeException e) {
                // only a head start was lost
            }
        }

        Report withCommands(Map<String, Long> commands) {
            return new Report(policy, payload, pcrSource, banks, events, predictedPcrs, divergences, decision, commands, stats);
        }

        Report withSteps(Map<String, Long> steps) {
            Stats s = new Stats(stats.prepareMicros, stats.planMicros, stats.emulationMicros, stats.hashMicros, stats.hashBytes,
                    stats.evaluateMicros, stats.payloadSource, steps);
            return new Report(policy, payload, pcrSource, banks, events, predictedPcrs, divergences, decision, tpmCommands, s);
        }

        static Report of(PolicyFile policy, Plan plan, PolicyDecider decider, Decision d, long prepareMicros, long evaluateMicros,
                         String payloadSource) {
            List<Event> events = new ArrayList<>();
            int seq = 0;
            for (PlannedRecord r : plan.records()) {
                Map<String, String> dig = new LinkedHashMap<>();
                for (HashAlg a : plan.tpmBanks()) {
                    byte[] v = r.measurement().digests().get(a);
                    if (v != null) dig.put(a.tpmName, Hex.of(v));
                }
                events.add(new Event(++seq, r.measurement().pcr(), String.format("0x%x", r.measurement().eventType()),
                        r.origin().id(), r.disposition().name().toLowerCase(java.util.Locale.ROOT), dig));
            }
            // the PCRs the boot changes, as the next kernel will find them
            Map<String, Map<String, String>> pcrs = new LinkedHashMap<>();
            decider.prediction().changedValues().forEach((bank, m) -> {
                Map<String, String> b = new TreeMap<>(java.util.Comparator.comparingInt(Integer::parseInt));
                m.forEach((pcr, v) -> b.put(Integer.toString(pcr), Hex.of(v)));
                pcrs.put(bank.tpmName, b);
            });
            List<Divergent> div = new ArrayList<>();
            for (Divergence x : plan.divergences()) {
                div.add(new Divergent(x.bank().tpmName, x.pcr(), Hex.of(x.tpm()), Hex.of(x.logReplay()), x.explanation()));
            }
            return new Report(new PolicyInfo(policy.source().toString(), policy.id()),
                    new PayloadInfo(plan.payloadName(), Hex.of(plan.payloadAuthenticodeSha256())), plan.pcrSource(),
                    plan.tpmBanks().stream().map(a -> a.tpmName).toList(), events, pcrs, div,
                    PolicyRecord.of(decider.evaluation()), null,
                    new Stats(prepareMicros, plan.stats().planMicros(), plan.stats().emulationMicros(), plan.stats().hashMicros(),
                            plan.stats().hashBytes(), evaluateMicros, payloadSource, null));
        }
    }

    private void printText(PrintWriter o, Report r) {
        o.printf("policy: %s (%s)%n", r.policy().file(), r.policy().id());
        o.printf("payload: %s, Authenticode sha256 %s%n", r.payload().name(), r.payload().authenticodeSha256());
        o.printf("PCRs from %s; banks %s%n", r.pcrSource(), r.banks());
        o.printf("plan: %d event(s)%n", r.events().size());
        for (Report.Event e : r.events()) {
            String d = e.digests().values().stream().findFirst().orElse("");
            o.printf("  %3d  PCR %2d  %-10s  %-10s  %-11s  %s%n", e.seq(), e.pcr(), e.eventType(), e.origin(), e.disposition(),
                    d.length() > 16 ? d.substring(0, 16) + "…" : d);
        }
        o.println("predicted PCRs when the next kernel starts:");
        r.predictedPcrs().forEach((bank, m) -> m.forEach((pcr, v) -> o.printf("  %s:%s = %s%n", bank, pcr, v)));
        for (Report.Divergent d : r.divergences()) {
            o.printf("divergent before the boot: %s PCR %d (TPM %s, log %s)%n", d.bank(), d.pcr(), d.tpm(), d.logReplay());
        }
        PolicyRecord p = r.decision();
        for (PolicyRecord.Secret s : p.secrets()) {
            o.printf("secret %s (%s; must remain %s): %s%s — %s%n", s.name(), s.source(), s.mustRemain(), s.verdict(),
                    s.meetsIntent() ? "" : " (does not meet its intent)", s.reason());
            if (s.routes().size() > 1) {
                for (PolicyRecord.Route rt : s.routes()) o.printf("  %s: %s — %s%n", rt.route(), rt.verdict(), rt.reason());
            }
        }
        if (p.reauthorization() != null) {
            o.printf("re-authorization: %d signed polic(ies) for %s by key %s… → %s%n", p.reauthorization().signed().size(),
                    p.reauthorization().secrets(), p.reauthorization().keyFingerprint().substring(0, 16), p.reauthorization().file());
        }
        for (PolicyRecord.Finding f : p.findings()) o.printf("%s: %s%n", f.action(), f.text());
        o.println("decision: " + (p.allowed() ? "allow" : "deny"));
        if (r.tpmCommands() != null) {
            StringBuilder sb = new StringBuilder();
            r.tpmCommands().forEach((n, c) -> sb.append(sb.length() == 0 ? "" : ", ").append(c).append(' ').append(n.replaceFirst("^TPM2_", "")));
            o.printf("TPM commands (reads only): %s%n", sb);
        }
    }
}
