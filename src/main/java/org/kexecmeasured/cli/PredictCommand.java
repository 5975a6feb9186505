package org.kexecmeasured.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.boot.Decision;
import org.kexecmeasured.boot.Divergence;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.boot.PlannedRecord;
import org.kexecmeasured.boot.Progress;
import org.kexecmeasured.policy.PolicyDecider;
import org.kexecmeasured.policy.PolicyRecord;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyParser;
import org.kexecmeasured.tpm.CommandCode;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;

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
        PolicyFile policy = PolicyParser.read(policyFile);
        run.checkDisk();
        try (PayloadFile bytes = run.open()) {
            clock.mark("policyAndPayload");
            return call(policy, bytes, clock);
        }
    }

    private Integer call(PolicyFile policy, PayloadFile bytes, StepClock clock) throws IOException {
        // the same request boot makes: the log boot would continue, and with the live TPM the running OS's
        // records (IMA, systemd) boot would place before the boundary; a PCR snapshot may come from elsewhere
        Path log = run.log().path();
        // a progress line on the terminal while the prediction works (nothing with --json or without a terminal)
        ProgressLine progress = ProgressLine.forSteps("predict", spec.commandLine().getErr(), json);
        MeasuredBoot.Request req = run.request(bytes, log, null, null, PolicyDecider.bootPolicy(policy), java.time.Duration.ZERO,
                        origin.pcrs != null ? OsLogs.NONE : OsLogs.SYSTEM)
                .withProgress(progress.enabled() ? progress : Progress.NONE);
        Report report;
        try (progress) {
            if (origin.pcrs != null) {
                PcrSnapshot snapshot = PcrSnapshot.read(origin.pcrs);
                report = predict(policy, bytes, req, snapshot, null, clock);
            } else {
                try (Tpm tpm = services.tpm().open(origin.tcti)) {
                    SortedMap<Integer, Long> c0 = tpm.commandCounts();
                    report = predict(policy, bytes, req, tpm, tpm, clock);
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

    private Report predict(PolicyFile policy, PayloadFile bytes, MeasuredBoot.Request req, PcrReader pcrs, Tpm tpm, StepClock clock) {
        clock.mark("pcrSource"); // the TPM opened, or the PCR snapshot read
        long t0 = System.nanoTime();
        req.progress().step("reading the policy's secrets");
        PolicyDecider decider = PolicyDecider.prepare(policy, bytes.buffer(), tpm);
        long t1 = System.nanoTime();
        clock.mark("sources");
        Plan plan;
        try {
            plan = MeasuredBoot.plan(req, pcrs);
        } catch (EmulationException | GuestMemoryException e) {
            throw new BadInputException("emulation of " + run.payload + " failed: " + e.getMessage(), e);
        }
        long t2 = System.nanoTime();
        clock.mark("plan");
        req.progress().step("evaluating the policy");
        Decision d = decider.decide(plan);
        long t3 = System.nanoTime();
        clock.mark("decide");
        // the prediction is of the bytes the file holds (a mapped payload's read lease held through the last read)
        bytes.checkUnchanged("before the prediction was reported");
        Report r = Report.of(policy, plan, decider, d, (t1 - t0) / 1000, (t3 - t2) / 1000, bytes.describeSource());
        JournalLog.fromEnvironment(System.getenv(), spec.commandLine().getErr()).predicted(plan, r.decision(), policyFile.toString());
        clock.mark("report");
        return r.withSteps(steps(clock.micros(), decider.stepMicros()));
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
         * Microseconds: reading the policy's sources, the plan (of it emulation, hashing), the evaluation; how the
         * payload was held ("mapped" under a read lease, or "copy: why"); the wall time of each step in order
         * (policyAndPayload: parse the policy, open the payload; pcrSource: open the TPM or read the snapshot;
         * sources; plan; decide and its own steps as decide.*; report: the report built), up to the output, which
         * is written after them.
         */
        @JsonPropertyOrder({"prepareMicros", "planMicros", "emulationMicros", "hashMicros", "hashBytes", "evaluateMicros", "payloadSource",
                "stepMicros"})
        @JsonInclude(JsonInclude.Include.NON_NULL)
        record Stats(long prepareMicros, long planMicros, long emulationMicros, long hashMicros, long hashBytes, long evaluateMicros,
                     String payloadSource, Map<String, Long> stepMicros) {
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
