package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.ChainSegments;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.boot.Divergence;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.SystemdJournal;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Structured journal entries where operators look: when kexec-measured runs as a systemd service
 * ({@code INVOCATION_ID} set, or {@code JOURNAL_STREAM} naming the stderr it writes to) or when asked
 * explicitly ({@code KEXEC_MEASURED_LOG=journal}, for units and hooks; {@code =console} turns it off),
 * each boot's outcome, its warnings and any error go to systemd-journald with the boot's identifiers
 * as fields: {@code KEXEC_MEASURED_GENERATION}, {@code KEXEC_MEASURED_BOUNDARY_NONCE},
 * {@code KEXEC_MEASURED_PAYLOAD_SHA256} (Authenticode), and more. {@code journalctl
 * KEXEC_MEASURED_BOUNDARY_NONCE=…} then finds everything about one boot: its measurement
 * ({@code boot}) and the start of its kernel ({@code exec}). A prediction ({@code predict}) is logged
 * with the generation it would boot, the payload digest, the policy and its decision and verdicts, but
 * no boundary nonce: the nonce a plan draws is its own, a boot draws a fresh one, so it would name no
 * boot. The command's own output on stdout/stderr is unchanged. A journal that cannot be reached costs
 * one line on stderr, never the run. (The system-shutdown hook's {@code commit-pending} runs after
 * journald has stopped: its messages go to the console, which systemd-shutdown logs to the kernel log.)
 */
final class JournalLog {
    static final String ENV = "KEXEC_MEASURED_LOG";
    static final String IDENTIFIER = "kexec-measured";
    /** MESSAGE_ID of "a payload was measured" entries (systemd catalog convention: a fixed 128-bit id). */
    static final String BOOT_MEASURED = "593a8e8a8782457db0c915828924d0ae";
    /** MESSAGE_ID of a PCR that disagreed with the firmware log before the boot. */
    static final String PCR_DIVERGED = "0b9d3c6f1f5e4a0c9d2e7a41c8f35b12";
    /** MESSAGE_ID of a command that failed. */
    static final String FAILED = "c2a1e6d45b8f4f7d8e0a9b3c6d2f1e70";
    /** MESSAGE_ID of "a boot under a policy was predicted" entries ({@code predict}). */
    static final String BOOT_PREDICTED = "7f4c2b9e0d3a4e6b8a1f5c2d9e7b3a64";
    /** MESSAGE_ID of "the loaded kernel is being started" entries ({@code exec}, {@code boot --exec}). */
    static final String KEXEC_STARTED = "3e8d1a5c7b2f4960a4c8e1d7f3b5a209";

    private final SystemdJournal journal;
    private final PrintWriter err;

    private JournalLog(SystemdJournal journal, PrintWriter err) {
        this.journal = journal;
        this.err = err;
    }

    /** Journal logging as the environment asks for it; {@link #enabled()} false when it does not. */
    static JournalLog fromEnvironment(Map<String, String> env, PrintWriter err) {
        return new JournalLog(wanted(env) ? new SystemdJournal(SystemdJournal.DEFAULT_SOCKET) : null, err);
    }

    static boolean wanted(Map<String, String> env) {
        String mode = env.getOrDefault(ENV, "auto");
        if (mode.equals("journal")) return true;
        if (mode.equals("console")) return false;
        return env.containsKey("INVOCATION_ID") || stderrIsJournal(env.get("JOURNAL_STREAM"));
    }

    /** JOURNAL_STREAM is "dev:inode" of the stream journald gave the service; it counts only if stderr is still that one. */
    static boolean stderrIsJournal(String journalStream) {
        if (journalStream == null) return false;
        try {
            Path fd2 = Path.of("/proc/self/fd/2");
            Object dev = Files.getAttribute(fd2, "unix:dev");
            Object ino = Files.getAttribute(fd2, "unix:ino");
            return journalStream.equals(dev + ":" + ino);
        } catch (Exception e) {
            return false;
        }
    }

    boolean enabled() {
        return journal != null;
    }

    /** The boot's outcome with its identifiers, then one warning per PCR that diverged before it. */
    void bootMeasured(MeasuredBoot.Result r, String payloadName) {
        if (journal == null) return;
        Plan p = r.plan();
        EventLog log = r.commit() != null ? r.commit().log() : p.predictedLog();
        Map<String, String> ids = identifiers(log, p, payloadName);
        int extends_ = r.commit() != null ? r.commit().extended().size() : 0;
        Map<String, String> f = entry(SystemdJournal.INFO, BOOT_MEASURED, String.format(
                "measured boot of %s: generation %s, boundary nonce %s, %d extend(s), %d PCR(s) diverged before the boot",
                payloadName, ids.get("KEXEC_MEASURED_GENERATION"), ids.get("KEXEC_MEASURED_BOUNDARY_NONCE"),
                extends_, p.divergences().size()));
        f.putAll(ids);
        f.put("KEXEC_MEASURED_EXTENDS", Integer.toString(extends_));
        if (r.outputs() != null) {
            f.put("KEXEC_MEASURED_EVENTLOG", r.outputs().eventlog().toString());
            f.put("KEXEC_MEASURED_MANIFEST", r.outputs().manifest().toString());
        }
        if (p.handOff() != null) f.put("KEXEC_MEASURED_CMDLINE", p.handOff().cmdline());
        send(f);
        for (Divergence d : p.divergences()) {
            Map<String, String> w = entry(SystemdJournal.WARNING, PCR_DIVERGED, String.format(
                    "%s PCR %d already disagreed with the firmware log before the boot: TPM %s, log %s",
                    d.bank().tpmName, d.pcr(), Hex.of(d.tpm()), Hex.of(d.logReplay())));
            w.putAll(ids);
            w.put("KEXEC_MEASURED_PCR", Integer.toString(d.pcr()));
            w.put("KEXEC_MEASURED_BANK", d.bank().tpmName);
            send(w);
        }
    }

    /** A prediction: the generation the boot would start, payload, policy, its decision and a verdict per secret. */
    void predicted(Plan p, org.kexecmeasured.policy.PolicyRecord decision, String policyFile) {
        if (journal == null) return;
        ChainSegments seg = ChainSegments.of(p.predictedLog(), p.firmwareRecords());
        String verdicts = decision.secrets().stream().map(x -> x.name() + "=" + x.verdict()).collect(Collectors.joining(","));
        String outcome = decision.allowed() ? "allow" : "deny";
        Map<String, String> f = entry(decision.allowed() ? SystemdJournal.INFO : SystemdJournal.WARNING, BOOT_PREDICTED,
                String.format("predicted boot of %s under policy %s: %s, generation %d, %d secret(s)%s", p.payloadName(),
                        decision.policy(), outcome, seg.lastGeneration(), decision.secrets().size(),
                        verdicts.isEmpty() ? "" : " (" + verdicts + ")"));
        f.put("KEXEC_MEASURED_GENERATION", Integer.toString(seg.lastGeneration()));
        f.put("KEXEC_MEASURED_PAYLOAD_SHA256", Hex.of(p.payloadAuthenticodeSha256()));
        f.put("KEXEC_MEASURED_PAYLOAD", p.payloadName());
        f.put("KEXEC_MEASURED_POLICY", decision.policy());
        f.put("KEXEC_MEASURED_POLICY_FILE", policyFile);
        f.put("KEXEC_MEASURED_DECISION", outcome);
        f.put("KEXEC_MEASURED_VERDICTS", verdicts);
        f.put("KEXEC_MEASURED_PCR_SOURCE", p.pcrSource());
        f.put("KEXEC_MEASURED_BANKS", p.tpmBanks().stream().map(a -> a.tpmName).collect(Collectors.joining(",")));
        send(f);
    }

    /**
     * The loaded kernel is about to start ({@code exec}): logged before the system call, which does not
     * return. The identifiers are those of the last boot committed in {@code stateDir} (its sidecar's
     * continued log and manifest); without one the entry says so. Reading them never stops the start.
     */
    void kexecStarting(Path stateDir) {
        if (journal == null) return;
        Map<String, String> ids = new LinkedHashMap<>();
        String from;
        try {
            ReportCommand.BootFiles files = ReportCommand.locate(stateDir);
            int firmwareRecords = files.manifest() == null ? -1
                    : ReportCommand.readManifest(files.manifest()).path("firmwareLog").path("records").asInt(-1);
            EventLog log = org.kexecmeasured.eventlog.EventLogParser.parse(EventlogInput.readBytes(files.log()));
            ChainSegments seg = ChainSegments.of(log, firmwareRecords);
            ids.put("KEXEC_MEASURED_GENERATION", Integer.toString(seg.lastGeneration()));
            if (!seg.boundaries().isEmpty()) {
                ChainSegments.Boundary b = seg.boundaries().get(seg.boundaries().size() - 1);
                if (b.nonce() != null) ids.put("KEXEC_MEASURED_BOUNDARY_NONCE", b.nonce());
                if (b.payloadDigest() != null) ids.put("KEXEC_MEASURED_PAYLOAD_SHA256", b.payloadDigest());
                if (b.fields().containsKey("policy")) ids.put("KEXEC_MEASURED_POLICY", b.fields().get("policy"));
            }
            ids.put("KEXEC_MEASURED_EVENTLOG", files.log().toString());
            from = String.format("the last boot committed in %s: generation %s, boundary nonce %s", stateDir,
                    ids.get("KEXEC_MEASURED_GENERATION"), ids.getOrDefault("KEXEC_MEASURED_BOUNDARY_NONCE", "none"));
        } catch (RuntimeException e) {
            from = "no committed boot found in " + stateDir + " (" + Main.oneLine(e.getMessage()) + ")";
        }
        Map<String, String> f = entry(SystemdJournal.INFO, KEXEC_STARTED,
                "starting the loaded kernel (sync, reboot(LINUX_REBOOT_CMD_KEXEC)); " + from);
        f.putAll(ids);
        f.put("KEXEC_MEASURED_STATE_DIR", stateDir.toString());
        send(f);
    }

    /** A command that failed: its one-line message and exit code. */
    void failed(String command, String message, int exitCode) {
        if (journal == null) return;
        Map<String, String> f = entry(SystemdJournal.ERR, FAILED, command + ": " + message);
        f.put("KEXEC_MEASURED_COMMAND", command);
        f.put("KEXEC_MEASURED_EXIT", Integer.toString(exitCode));
        send(f);
    }

    /** Generation being booted (1 + boundaries in the continued log), its boundary nonce and payload. */
    static Map<String, String> identifiers(EventLog log, Plan p, String payloadName) {
        Map<String, String> m = new LinkedHashMap<>();
        ChainSegments seg = ChainSegments.of(log, p.firmwareRecords());
        m.put("KEXEC_MEASURED_GENERATION", Integer.toString(seg.lastGeneration()));
        if (!seg.boundaries().isEmpty()) {
            ChainSegments.Boundary b = seg.boundaries().get(seg.boundaries().size() - 1);
            if (b.nonce() != null) m.put("KEXEC_MEASURED_BOUNDARY_NONCE", b.nonce());
            if (b.payloadDigest() != null) m.put("KEXEC_MEASURED_PAYLOAD_SHA256", b.payloadDigest());
            if (b.fields().containsKey("policy")) m.put("KEXEC_MEASURED_POLICY", b.fields().get("policy"));
        }
        m.put("KEXEC_MEASURED_PAYLOAD", payloadName);
        m.put("KEXEC_MEASURED_BANKS", p.tpmBanks().stream().map(a -> a.tpmName).collect(Collectors.joining(",")));
        return m;
    }

    private static Map<String, String> entry(int priority, String messageId, String message) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("MESSAGE", message);
        f.put("PRIORITY", Integer.toString(priority));
        f.put("SYSLOG_IDENTIFIER", IDENTIFIER);
        f.put("MESSAGE_ID", messageId);
        return f;
    }

    private void send(Map<String, String> f) {
        try {
            journal.send(f);
        } catch (SystemdJournal.JournalException | UnsatisfiedLinkError e) {
            err.println("kexec-measured: journal: " + Main.oneLine(e.getMessage()));
        }
    }
}
