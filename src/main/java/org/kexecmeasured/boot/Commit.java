package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PcrTpm;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Carries out a {@link Plan} on the TPM, the one irreversible step of a boot. First it refuses a stale
 * plan (the boundary-set PCRs, read again in one batch, must still be those the plan started from);
 * then, in the plan's order, every record goes through the {@link ExtendPipeline} (journal intent →
 * extend → done → log). The log it builds must equal the plan's predicted log byte for byte, and the
 * PCRs then hold the plan's predicted values.
 *
 * <p>A failure after the first extend was sent becomes a {@link TpmChangedException} (exit 4), with
 * the log of the acknowledged extends in {@code STATE/eventlog.partial.bin}; a failure before it leaves
 * the TPM as it was.
 */
public final class Commit {

    /** The partial log's name in the state directory (firmware log + acknowledged extends). */
    public static final String PARTIAL_LOG = "eventlog.partial.bin";

    /**
     * @param extended    every acknowledged extend, in order (journal sequence numbers)
     * @param log         the log as committed (equal to the plan's predicted log)
     * @param journal     the journal file, kept as evidence
     * @param tpmCommands the TPM commands of the commit by TPM_CC (the stale-plan read and the extends)
     * @param journalTail where the journal ends (every line forced to disk): the archive appends
     *                    {@code finished} after it without parsing the journal again ({@link Journal#finish(Path, Journal.Tail)})
     */
    public record Result(List<ExtendPipeline.Extended> extended, EventLog log, Path journal,
                         SortedMap<Integer, Long> tpmCommands, long micros, Journal.Tail journalTail) {
        public Result {
            extended = List.copyOf(extended);
        }
    }

    private Commit() {
    }

    /** {@link #commit(Plan, PcrTpm, Path, Path)} with no log output named in the journal. */
    public static Result commit(Plan plan, PcrTpm tpm, Path stateDir) {
        return commit(plan, tpm, stateDir, null);
    }

    /**
     * Commits {@code plan} to {@code tpm}, journaling into {@code stateDir/journal.jsonl} (which must not
     * exist) beside a copy of the firmware log, so the journal alone rebuilds the whole log whatever
     * happens next; {@code eventlogOut} (may be null) is recorded as where the log goes. The caller holds
     * the state directory's and the TPM's {@link Locks}.
     */
    public static Result commit(Plan plan, PcrTpm tpm, Path stateDir, Path eventlogOut) {
        long t0 = System.nanoTime();
        SortedMap<Integer, Long> c0 = tpm.commandCounts();
        refuseStalePlan(plan, tpm);
        Path journalFile = stateDir.resolve(Journal.FILE_NAME);
        Journal.Origin origin = copyFirmwareLog(stateDir, plan, eventlogOut);
        Journal journal = createJournal(journalFile, plan, origin);
        ExtendPipeline pipeline = new ExtendPipeline(tpm, plan.tpmBanks(), journal, journalFile,
                plan.firmwareLog().toBuilder(), plan.logBanks());
        Journal.Tail tail;
        try {
            for (PlannedRecord r : plan.records()) pipeline.run(r);
            tail = journal.tail();
            checkLogAsPredicted(plan, pipeline.log());
            checkPcrsAsPredicted(plan, tpm);
        } catch (RuntimeException e) {
            throw stopped(stateDir, pipeline, journalFile, e);
        } finally {
            closeQuietly(journal);
        }
        return new Result(pipeline.extended(), pipeline.log(), journalFile,
                CommandCode.sentSince(c0, tpm.commandCounts()), (System.nanoTime() - t0) / 1000, tail);
    }

    // ------------------------------------------------------------------ steps

    /**
     * The plan's predictions start from its PCR reading: the boundary-set PCRs of every bank must
     * still hold those values (one read batch), and the TPM must have the same banks. Other PCRs may
     * move meanwhile (IMA's PCR 10, for one) without touching any prediction.
     */
    static void refuseStalePlan(Plan plan, PcrReader tpm) {
        if (!new java.util.HashSet<>(tpm.banks()).equals(new java.util.HashSet<>(plan.tpmBanks()))) {
            throw new StalePlanException("the TPM's active banks " + names(tpm.banks()) + " are not those the plan was made for "
                    + names(plan.tpmBanks()) + " (" + plan.pcrSource() + "); nothing was extended");
        }
        Map<HashAlg, byte[][]> now = tpm.readPcrs(PcrSelection.of(plan.tpmBanks(), plan.policy().boundarySet()));
        List<String> moved = new ArrayList<>();
        for (HashAlg a : plan.tpmBanks()) {
            for (int p : plan.policy().boundarySet()) {
                if (!Arrays.equals(now.get(a)[p], plan.pcrsBefore().values().get(a).get(p))) moved.add(a.tpmName + " PCR " + p);
            }
        }
        if (!moved.isEmpty()) {
            throw new StalePlanException("the TPM's PCRs changed since the plan was made (" + String.join(", ", moved)
                    + "): its predictions no longer hold; nothing was extended (make a new plan)");
        }
    }

    /**
     * The firmware log the plan continues, byte for byte, beside the journal (written atomically before
     * the journal exists): with it the journal rebuilds the whole log, whatever happens to the outputs.
     */
    static Journal.Origin copyFirmwareLog(Path stateDir, Plan plan, Path eventlogOut) {
        byte[] fw = plan.firmwareLog().toBytes();
        Path copy = stateDir.resolve(Journal.FIRMWARE_LOG_FILE);
        try {
            AtomicFiles.write(copy, fw);
        } catch (IOException e) {
            throw new BadInputException(e.getMessage() + " (the copy of the firmware log; nothing was extended)");
        }
        return new Journal.Origin(plan.boundary().nonce(), Journal.FIRMWARE_LOG_FILE, HashAlg.SHA256.digest(fw), fw.length,
                eventlogOut == null ? null : eventlogOut.toAbsolutePath().toString());
    }

    /** The journal's header holds the boundary-set PCRs before the first extend (what recovery replays from). */
    static Journal createJournal(Path file, Plan plan, Journal.Origin origin) {
        Map<HashAlg, Map<Integer, byte[]>> start = new EnumMap<>(HashAlg.class);
        for (HashAlg a : plan.tpmBanks()) {
            Map<Integer, byte[]> m = new TreeMap<>();
            for (int p : plan.policy().boundarySet()) m.put(p, plan.pcrsBefore().values().get(a).get(p));
            start.put(a, m);
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            return Journal.create(file, origin, start);
        } catch (FileAlreadyExistsException e) {
            throw new BadInputException(file + " exists: a previous run did not finish or its evidence was not cleared; "
                    + "nothing was extended");
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot create the journal: " + e.getMessage() + " (nothing was extended)");
        }
    }

    /** The committed log is built like the predicted one; any difference is a bug that must not go unnoticed. */
    private static void checkLogAsPredicted(Plan plan, EventLog log) {
        if (!Arrays.equals(log.toBytes(), plan.predictedLog().toBytes())) {
            throw new IllegalStateException("internal error: the committed log differs from the plan's predicted log");
        }
    }

    /**
     * After the last extend, the boundary-set PCRs of every bank are read back (one batch) and must hold
     * the plan's prediction. With the TPM lock held no other kexec-measured run extends meanwhile, so a
     * difference means another program extended those PCRs during the commit: reported as such (exit 4,
     * the journal names every extend of this run and stays unfinished).
     */
    static void checkPcrsAsPredicted(Plan plan, PcrReader tpm) {
        Map<HashAlg, byte[][]> now = tpm.readPcrs(PcrSelection.of(plan.tpmBanks(), plan.policy().boundarySet()));
        List<String> moved = new ArrayList<>();
        for (HashAlg a : plan.tpmBanks()) {
            for (int p : plan.policy().boundarySet()) {
                if (!Arrays.equals(now.get(a)[p], plan.predictedPcrs().values().get(a).get(p))) {
                    moved.add(a.tpmName + " PCR " + p + " holds " + org.kexecmeasured.util.Hex.of(now.get(a)[p])
                            + ", predicted " + org.kexecmeasured.util.Hex.of(plan.predictedPcrs().values().get(a).get(p)));
                }
            }
        }
        if (!moved.isEmpty()) {
            throw new BadInputException("after the commit, the PCRs are not those predicted: something other than this run "
                    + "extended them during the commit (" + String.join("; ", moved) + ")");
        }
    }

    /** After an extend may have reached the TPM: write what was acknowledged, then fail loudly (exit 4). */
    private static RuntimeException stopped(Path stateDir, ExtendPipeline pipeline, Path journal, RuntimeException e) {
        if (!pipeline.tpmMayHaveChanged()) {
            // nothing reached the TPM: the failure as it is (exit 2 at the CLI); a journal that cannot be
            // written (full disk) is bad input here, not an internal error
            return e instanceof java.io.UncheckedIOException u
                    ? new BadInputException(u.getMessage() + " (nothing was extended)", u) : e;
        }
        Path partial = null;
        String logNote = "";
        if (!pipeline.extended().isEmpty()) {
            partial = stateDir.resolve(PARTIAL_LOG);
            try {
                AtomicFiles.write(partial, pipeline.log().toBytes());
                logNote = "; the log of the " + pipeline.extended().size() + " acknowledged extend(s) is in " + partial;
            } catch (IOException io) {
                logNote = "; writing " + partial + " failed: " + io.getMessage();
                partial = null;
            }
        }
        String msg = e instanceof ExtendPipeline.ExtendFailedException
                ? e.getMessage()
                : "the commit stopped after " + pipeline.extended().size() + " extend(s) (journal " + journal + "): "
                + (e instanceof BadInputException ? "" : e.getClass().getSimpleName() + ": ") + e.getMessage();
        return new TpmChangedException(msg + logNote, journal, partial, e);
    }

    /** Every journal line was forced to disk when written (Journal): a failing close loses nothing. */
    private static void closeQuietly(Journal j) {
        try {
            j.close();
        } catch (IOException ignored) {
            // see above
        }
    }

    private static String names(List<HashAlg> banks) {
        return banks.stream().map(a -> a.tpmName).toList().toString();
    }
}
