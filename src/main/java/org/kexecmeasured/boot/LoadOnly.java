package org.kexecmeasured.boot;

import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * A boot that loads and does not commit, top to bottom: {@link MeasuredBoot#plan} (the TPM is only read)
 * → decide → load with an {@link UncommittedManifest} sidecar (the log as it stood, no boundary).
 * <ul>
 *   <li>{@link #crash}: {@code boot --crash}. A crash kernel is never committed: loading it must have no
 *       side effect (kdump), and after a panic nothing runs that could extend.</li>
 *   <li>{@link #prepareForShutdown}: {@code boot --at-shutdown}. The plan is also saved
 *       ({@link PendingBoot}); the system-shutdown hook commits it at the last moment ({@link PendingCommit}).</li>
 * </ul>
 */
public final class LoadOnly {

    public record Result(Plan plan, Decision decision, Loader.Loaded loaded, Path pendingDir) {
    }

    private LoadOnly() {
    }

    public static Result crash(MeasuredBoot.Request req, PcrReader tpm, Decider decider, Loader crashLoader) {
        Plan plan = MeasuredBoot.plan(req, tpm, true, null);
        Decision decision = MeasuredBoot.decide(plan, decider);
        req.payload().checkUnchanged("before the crash kernel was loaded");
        Loader.Loaded loaded = crashLoader.loadUncommitted(plan, UncommittedManifest.sidecarFiles(plan, UncommittedManifest.Mode.CRASH));
        MeasuredBoot.unloadOnFailure(loaded, () -> {
            req.payload().checkUnchanged("after the crash kernel was loaded");
            return null;
        });
        return new Result(plan, decision, loaded, null);
    }

    /**
     * Plans, decides, loads with a "pending" sidecar and saves the plan to {@code pendingDir} for the
     * system-shutdown hook; a failure to save unloads again.
     *
     * @param tool              the launcher the hook runs to commit
     * @param tolerateDivergent the PCRs {@code decider} lets diverge: the commit checks the PCRs it reads then
     *                          against the same set ({@link PendingCommit})
     * @param tcti              the TPM {@code tpm} reads: the commit extends that one (the hook names none)
     * @throws BadInputException when the decision puts files in {@code /.extra/} (a re-authorization): they
     *                           are signed over the PCRs read now, which the OS still changes before the
     *                           commit, and this commit does not decide again — refused before the load
     */
    public static Result prepareForShutdown(MeasuredBoot.Request req, PcrReader tpm, Decider decider, Loader loader,
                                            Path pendingDir, String tool, java.util.Set<Integer> tolerateDivergent,
                                            String tcti) {
        return prepareForShutdown(req, tpm, decider, loader, pendingDir, tool, tolerateDivergent, tcti, false);
    }

    /**
     * As above; {@code commitDecidesAgain}: the commit runs the same policy again on the PCRs it reads
     * ({@code policy.PolicyAtCommit}), so a re-authorization now is only a preview — its {@code /.extra/} files
     * are neither loaded now nor saved: the commit's decision signs again over what the next system will hold.
     */
    public static Result prepareForShutdown(MeasuredBoot.Request req, PcrReader tpm, Decider decider, Loader loader,
                                            Path pendingDir, String tool, java.util.Set<Integer> tolerateDivergent,
                                            String tcti, boolean commitDecidesAgain) {
        return prepareForShutdown(req, tpm, decider, loader, pendingDir, tool, tolerateDivergent, tcti, commitDecidesAgain,
                () -> { });
    }

    /** What the caller saves beside the pending boot (e.g. the policy the commit decides under again). */
    @FunctionalInterface
    public interface SaveAlso {
        void save() throws IOException;
    }

    /**
     * As above; {@code saveAlso} runs right before the pending boot is saved — after the plan, the decision and the
     * load have passed — so a refused or failed preparation leaves an earlier pending boot's files as they were.
     */
    public static Result prepareForShutdown(MeasuredBoot.Request req, PcrReader tpm, Decider decider, Loader loader,
                                            Path pendingDir, String tool, java.util.Set<Integer> tolerateDivergent,
                                            String tcti, boolean commitDecidesAgain, SaveAlso saveAlso) {
        MeasuredBoot.checkStateDir(req.stateDir());
        Plan plan = MeasuredBoot.plan(req, tpm, true, null);
        Decision decision = MeasuredBoot.decide(plan, decider);
        if (!decision.extraFiles().isEmpty() && !commitDecidesAgain) {
            throw new BadInputException("--at-shutdown: the policy's decision adds " + decision.extraFiles().keySet()
                    + " to /.extra/ (a re-authorization signed over the PCRs read now); the OS changes PCRs until the"
                    + " system-shutdown hook commits and the commit does not re-authorize, so the signature would not"
                    + " match: a decider that decides again at the commit is needed (nothing was loaded or extended)");
        }
        req.payload().checkUnchanged("before the kernel was loaded");
        Loader.Loaded loaded = loader.loadUncommitted(plan, UncommittedManifest.sidecarFiles(plan, UncommittedManifest.Mode.PENDING));
        MeasuredBoot.unloadOnFailure(loaded, () -> {
            // the last read of the payload's bytes was the load: the pending boot is saved only for the bytes checked
            req.payload().checkUnchanged("before the pending boot was saved");
            try {
                // a re-authorization's copy beside the manifest is made again by the commit's decision
                java.util.SortedMap<String, byte[]> saved = new java.util.TreeMap<>(decision.sidecarFiles());
                saved.keySet().removeAll(decision.extraFiles().keySet());
                saveAlso.save();
                PendingBoot.save(plan, saved, tolerateDivergent, req.stateDir(), pendingDir, tool, tcti);
                return null;
            } catch (IOException e) {
                throw new UncheckedIOException(pendingDir + ": cannot save the pending boot: " + e.getMessage(), e);
            }
        });
        return new Result(plan, decision, loaded, pendingDir);
    }
}
