package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PcrTpm;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * The next system's side of a pending boot that was never committed ({@code tcg2/uncommitted-handover.md}): a
 * kernel loaded by {@code boot --at-shutdown} and started by other means ({@code kexec -e}, a reboot syscall
 * without the system-shutdown hook) carries the sidecar of {@link UncommittedManifest} (mode {@code pending}) and
 * runs with the previous system's PCRs. {@link #mark} extends the <em>uncommitted hand-over</em> event into every
 * PCR of the plan's boundary set and appends it to the log the sidecar carried, so the TPM no longer holds values
 * the previous system could unseal with and the log still replays to the TPM.
 *
 * <p>A crash kernel (mode {@code crash}) is left alone by design: see the document.
 */
public final class UncommittedHandOver {

    /** taggedEventID of the event ("UMXK" little-endian: 55 4D 58 4B), distinct from the boundary's. */
    public static final int TAG_ID = 0x4B584D55;
    /** The written note beside the log: what was extended. */
    public static final String NOTE_FILE = "uncommitted-handover.json";

    /** What {@link #mark} found and did. */
    public enum Outcome {
        /** No sidecar manifest, or a committed one ({@code kexec-measured-manifest/1}): nothing to do. */
        COMMITTED_OR_NONE,
        /** A crash kernel's sidecar: nothing is extended for it, by design. */
        CRASH_LEFT_ALONE,
        /** The log already ends with this plan's uncommitted hand-over event: it was marked before. */
        ALREADY_MARKED,
        /** The event was extended and appended to the log. */
        MARKED
    }

    /**
     * @param agreedBefore whether the carried log replayed to the TPM's values before the extend (false: something
     *                     else extended those PCRs after the log was saved — e.g. a commit cut short — and the log and
     *                     the TPM disagree with or without this event)
     */
    public record Result(Outcome outcome, List<Integer> pcrs, String nonce, boolean agreedBefore, Path log) {
    }

    /** The format of {@link #NOTE_FILE}. */
    public static final String NOTE_FORMAT = "kexec-measured-uncommitted-handover/1";

    /**
     * {@link #NOTE_FILE} (tcg2/uncommitted-handover.md): what was extended, into which PCRs, whether the carried log
     * agreed with the TPM before, which PCRs an earlier run cut short had already extended, and the new log's digest.
     */
    public record Note(String format, List<Integer> pcrs, String nonce, boolean agreedBefore,
                       List<Integer> extendedBefore, String event, String tpm2EventLog, String sha256) {
    }

    private UncommittedHandOver() {
    }

    /**
     * Reads {@code runDir}'s manifest; for a pending, uncommitted sidecar checks the carried log against its manifest,
     * then (all checks passed) extends the event into each boundary PCR in every TPM bank, ascending, and replaces the
     * log with the log plus those records (atomically) and writes {@link #NOTE_FILE}. Bad input (a damaged manifest or
     * log) is refused before any extend. The TPM is opened (through {@code tpmOnDemand}) only for a pending sidecar
     * whose manifest and log passed their checks.
     */
    public static Result mark(Path runDir, Supplier<? extends PcrTpm> tpmOnDemand) {
        Path manifestFile = runDir.resolve(Sidecar.MANIFEST_FILE);
        if (!Files.isRegularFile(manifestFile)) {
            return new Result(Outcome.COMMITTED_OR_NONE, List.of(), null, true, null);
        }
        UncommittedManifest m = UncommittedManifest.read(manifestFile).orElse(null);
        if (m == null) {
            return new Result(Outcome.COMMITTED_OR_NONE, List.of(), null, true, null);
        }
        String mode = m.mode();
        if (mode.equals("crash")) {
            return new Result(Outcome.CRASH_LEFT_ALONE, List.of(), null, true, null);
        }
        if (!mode.equals("pending")) {
            throw new BadInputException(manifestFile + ": mode: '" + mode + "' is neither pending nor crash");
        }
        String boundary = m.plannedBoundary();
        String nonce = field(manifestFile, boundary, "nonce");
        TreeSet<Integer> pcrs = new TreeSet<>();
        for (String p : field(manifestFile, boundary, "pcrs").split(",")) {
            try {
                int i = Integer.parseInt(p);
                if (i < 0 || i > 23) throw new NumberFormatException();
                pcrs.add(i);
            } catch (NumberFormatException e) {
                throw new BadInputException(manifestFile + ": plannedBoundary: pcrs: '" + p + "' is not a PCR index 0-23");
            }
        }
        // the sidecar names its log by the one fixed name; anything else is not a sidecar this tool made
        String logName = m.eventLog().tpm2EventLog();
        if (!logName.equals(Sidecar.LOG_FILE)) {
            throw new BadInputException(manifestFile + ": eventLog.tpm2EventLog: '" + logName + "', expected " + Sidecar.LOG_FILE);
        }
        Path logFile = runDir.resolve(Sidecar.LOG_FILE);
        byte[] logBytes = BoundedFiles.read(logFile, BoundedFiles.PAYLOAD);
        EventLog log = EventLog.parse(logBytes);
        byte[] data = eventData(nonce, field(manifestFile, boundary, "payload"), pcrs);
        byte[] tagged = BoundaryEvent.taggedEvent(TAG_ID, data);
        if (!log.events().isEmpty() && alreadyMarked(log, tagged)) {
            return new Result(Outcome.ALREADY_MARKED, List.copyOf(pcrs), nonce, true, logFile);
        }
        // the log as carried is the manifest's (a second mark after a crash between extend and write is not)
        String want = m.eventLog().sha256();
        if (!Hex.of(HashAlg.SHA256.digest(logBytes)).equals(want)) {
            throw new BadInputException(logFile + ": SHA-256 differs from the manifest's eventLog.sha256 " + want);
        }
        // only a pending sidecar that passed every check opens the TPM: a committed boot, none, or a crash
        // kernel's needs no TPM (the service runs at every boot with a sidecar)
        PcrTpm tpm = tpmOnDemand.get();
        List<HashAlg> tpmBanks = tpm.banks();
        List<HashAlg> banks = new ArrayList<>(tpmBanks);
        for (HashAlg a : log.banks()) if (!banks.contains(a)) banks.add(a);
        Measurement first = Measurement.of(pcrs.first(), BoundaryEvent.EV_EVENT_TAG, banks, data, tagged);
        PcrState state = pcrState(log, tpm, pcrs, first);
        boolean agreed = state.agreed();

        // every check passed: now the TPM, then the log beside it. A PCR that already holds the replay plus this
        // event got it from an earlier run cut short between its extends and the log's rewrite: it is not extended
        // twice (the log then says once what the TPM holds once).
        EventLog.Builder out = log.toBuilder();
        List<Integer> extended = new ArrayList<>();
        for (int pcr : pcrs) {
            try {
                if (!state.alreadyExtended().contains(pcr)) tpm.extend(pcr, PlannedRecord.select(first.digests(), tpmBanks));
            } catch (RuntimeException e) {
                if (extended.isEmpty()) throw e; // nothing changed yet: the TPM's own error
                throw new TpmChangedException("the uncommitted hand-over event reached PCRs " + extended + " and then PCR "
                        + pcr + " failed: " + e.getMessage() + "; " + logFile + " was not rewritten", null, null, e);
            }
            extended.add(pcr);
            out.append(pcr, BoundaryEvent.EV_EVENT_TAG, PlannedRecord.select(first.digests(), log.banks()), tagged);
        }
        try {
            byte[] newLog = out.build().toBytes();
            AtomicFiles.write(logFile, newLog);
            AtomicFiles.write(runDir.resolve(NOTE_FILE), Json.PRETTY.writeValueAsBytes(new Note(
                    NOTE_FORMAT, List.copyOf(pcrs), nonce, agreed, List.copyOf(state.alreadyExtended()),
                    new String(data, StandardCharsets.UTF_8), logFile.getFileName().toString(),
                    Hex.of(HashAlg.SHA256.digest(newLog)))));
        } catch (IOException e) {
            throw new TpmChangedException("the uncommitted hand-over event was extended into PCRs " + pcrs
                    + " but " + logFile + " could not be rewritten: " + e.getMessage(), null, null, e);
        }
        return new Result(Outcome.MARKED, List.copyOf(pcrs), nonce, agreed, logFile);
    }

    /**
     * One sentence for {@code eventlog show|verify} when they read the continued log of {@code runDir}: what an
     * uncommitted sidecar says about this boot (prepared with {@code boot --at-shutdown} and started without its
     * commit, marked or not yet; or a crash kernel's); empty for a committed sidecar or none. A manifest that
     * cannot be read is said as such (the log is still read: it is what the reader asked for).
     */
    public static Optional<String> describe(Path runDir) {
        Path manifestFile = runDir.resolve(Sidecar.MANIFEST_FILE);
        if (!Files.isRegularFile(manifestFile)) return Optional.empty();
        UncommittedManifest m;
        try {
            m = UncommittedManifest.read(manifestFile).orElse(null);
        } catch (BadInputException e) {
            return Optional.of("the sidecar's manifest cannot be read (" + e.getMessage() + "): whether this boot was committed is not known");
        }
        if (m == null) return Optional.empty();
        if (m.mode().equals("crash")) {
            return Optional.of("the sidecar is a crash kernel's (" + UncommittedManifest.FORMAT + ", mode crash): nothing was"
                    + " extended for this kernel; the PCRs are the crashed system's, which this log explains");
        }
        String prefix = "this boot was prepared with 'boot --at-shutdown' and never committed (" + UncommittedManifest.FORMAT
                + ", mode " + m.mode() + "): nothing of its payload was measured; ";
        if (Files.isRegularFile(runDir.resolve(NOTE_FILE))) {
            return Optional.of(prefix + "the log ends with the uncommitted hand-over event in every boundary PCR (" + NOTE_FILE
                    + ", tcg2/uncommitted-handover.md), after which those PCRs describe an unknown kernel");
        }
        return Optional.of(prefix + "not marked yet ('eventlog mark-uncommitted' has not run): the PCRs are the previous"
                + " system's");
    }

    /** taggedEventData (tcg2/uncommitted-handover.md): UTF-8 lines {@code key=value\n} in this order. */
    static byte[] eventData(String nonce, String payload, TreeSet<Integer> pcrs) {
        StringBuilder sb = new StringBuilder();
        sb.append("kexec-measured-uncommitted=1\n");
        sb.append("mode=pending\n");
        sb.append("nonce=").append(nonce).append('\n');
        sb.append("payload=").append(payload).append('\n');
        sb.append("pcrs=").append(String.join(",", pcrs.stream().map(String::valueOf).toList())).append('\n');
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static boolean alreadyMarked(EventLog log, byte[] tagged) {
        for (Event e : log.events()) {
            if (e.eventType() == BoundaryEvent.EV_EVENT_TAG && Arrays.equals(e.data(), tagged)) return true;
        }
        return false;
    }

    /**
     * The TPM against the carried log, per boundary PCR, in the banks both have: {@code agreed} when every PCR equals
     * the log's replay; {@code alreadyExtended} the PCRs that equal the replay extended with this very event (an
     * earlier mark cut short after its extends).
     */
    private record PcrState(boolean agreed, TreeSet<Integer> alreadyExtended) {
    }

    private static PcrState pcrState(EventLog log, PcrTpm tpm, TreeSet<Integer> pcrs, Measurement event) {
        List<HashAlg> common = tpm.banks().stream().filter(log.banks()::contains).toList();
        if (common.isEmpty()) return new PcrState(false, new TreeSet<>());
        Map<HashAlg, byte[][]> live = tpm.readPcrs(PcrSelection.of(common, pcrs));
        Map<HashAlg, byte[][]> replayed = Replay.replay(log, common);
        boolean agreed = true;
        TreeSet<Integer> already = new TreeSet<>();
        for (int p : pcrs) {
            boolean same = true;
            boolean plusEvent = true;
            for (HashAlg a : common) {
                byte[] now = live.get(a)[p];
                same &= Arrays.equals(now, replayed.get(a)[p]);
                plusEvent &= Arrays.equals(now, a.extend(replayed.get(a)[p], event.digests().get(a)));
            }
            if (plusEvent) {
                already.add(p);
            } else if (!same) {
                agreed = false;
            }
        }
        return new PcrState(agreed, already);
    }

    private static String field(Path f, String boundary, String key) {
        for (String l : boundary.split("\n")) if (l.startsWith(key + "=")) return l.substring(key.length() + 1);
        throw new BadInputException(f + ": plannedBoundary: no " + key + "= line");
    }
}
