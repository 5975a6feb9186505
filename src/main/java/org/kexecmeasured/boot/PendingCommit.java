package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.PcrTpm;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The second half of {@code boot --at-shutdown}, run by the system-shutdown hook right before the kexec
 * reboot, top to bottom: read the {@link PendingBoot} → read the log it continues and the PCRs again →
 * the OS's records read now (systemd's last phases among them where it logs them) → move the saved plan
 * onto them ({@link PlanRebase}: same boundary and records, the payload is not run again) → decide →
 * load again with the committed sidecar → commit → outputs → the pending file is removed. A failed
 * commit unloads (the hook then leaves the system to reboot through the firmware).
 */
public final class PendingCommit {
    /** At shutdown a concurrent run (a timer, an operator) may hold a lock briefly: wait for it, not forever. */
    static final java.time.Duration SHUTDOWN_LOCK_WAIT = java.time.Duration.ofSeconds(10);

    private PendingCommit() {
    }

    /**
     * The commit with the built-in decision (a policy file's boot is committed with {@code policy.PolicyAtCommit}'s
     * decider through {@link #run(Path, PcrTpm, Decider, Loader)}): the built-in divergence check on the PCRs read now, with
     * the PCRs the preparation's policy tolerated (the payload's trust and the secrets' verdicts were decided
     * when it was prepared; the records do not change).
     */
    public static MeasuredBoot.Result run(Path pendingDir, PcrTpm tpm, Loader loader) {
        PendingBoot pending = PendingBoot.read(pendingDir);
        return run(pendingDir, tpm, Decider.builtin(new java.util.HashSet<>(pending.policy().tolerateDivergent())), loader);
    }

    public static MeasuredBoot.Result run(Path pendingDir, PcrTpm tpm, Decider decider, Loader loader) {
        long t0 = System.nanoTime();
        SortedMap<Integer, Long> c0 = tpm.commandCounts();
        PendingBoot pending = PendingBoot.read(pendingDir);
        Path stateDir = Path.of(pending.stateDir());
        MeasuredBoot.checkStateDirIsADirectory(stateDir);
        // the same locks as a boot: no other run extends between this PCR read and the end of the commit
        try (Locks.Held state = Locks.stateDir(stateDir, SHUTDOWN_LOCK_WAIT);
             Locks.Held tpmLock = Locks.tpm(tpm.tcti(), SHUTDOWN_LOCK_WAIT)) {
            MeasuredBoot.checkStateDir(stateDir);
            Path logFile = Path.of(pending.firmwareLogSource());
            EventLog log = MeasuredBoot.readFirmwareLog(logFile);
            PcrSet before = MeasuredBoot.readPcrs(tpm);
            List<String> notes = new ArrayList<>();
            notes.add("committed at the last moment by the system-shutdown hook (prepared " + pending.created() + ")");
            EventLog head = MeasuredBoot.readOsLogs(OsLogs.SYSTEM, log, before, notes);
            Plan plan = pending.plan(pendingDir, head, before, tpm.source(), notes);
            Decision decision = MeasuredBoot.decide(plan, decider);
            SortedMap<String, byte[]> extra = new TreeMap<>(pending.sidecarExtraFileBytes());
            extra.putAll(decision.sidecarFiles());
            // the commit's decision in full: a re-authorization it signed (into /.extra/), its account and verdicts
            Sidecar sidecar = Sidecar.from(plan, new Decision(decision.allowed(), decision.reasons(), extra, decision.extraFiles(),
                    decision.record(), decision.verdicts()));
            MeasuredBoot.Request req = new MeasuredBoot.Request(new byte[0], plan.payloadName(), null, logFile, stateDir,
                    null, plan.policy(), plan.toolVersion(), 1);
            MeasuredBoot.checkOutputs(req, plan, sidecar);
            Loader.Loaded loaded = MeasuredBoot.load(loader, plan, sidecar);
            Commit.Result committed = MeasuredBoot.unloadOnFailure(loaded,
                    () -> Commit.commit(plan, tpm, stateDir, req.eventlogFile()));
            MeasuredBoot.Outputs written = MeasuredBoot.unloadOnFailure(loaded, () -> MeasuredBoot.writeOutputs(req, sidecar, committed));
            MeasuredBoot.Outputs outputs = MeasuredBoot.unloadOnFailure(loaded, () -> MeasuredBoot.archive(req, written, committed));
            try {
                Files.delete(pendingDir.resolve(PendingBoot.FILE));
            } catch (IOException e) {
                throw new BadInputException(pendingDir.resolve(PendingBoot.FILE) + ": committed, but it cannot be removed: "
                        + e.getMessage() + " (remove it before the next boot)");
            }
            return new MeasuredBoot.Result(plan, decision, loaded, committed, outputs,
                    new MeasuredBoot.Stats((System.nanoTime() - t0) / 1000, CommandCode.sentSince(c0, tpm.commandCounts())));
        }
    }
}
