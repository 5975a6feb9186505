package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.util.HashAlg;

import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Everything a measured boot will do, worked out with the TPM untouched (see {@link Planner}): the
 * records in the order the run measured them, what each becomes, and what the TPM and the log will
 * hold afterwards. A {@link Commit} carries it out; the sidecar ({@link Sidecar#from}) and a policy
 * decision ({@link Decider}) need nothing else. Immutable (the event logs and PCR sets are
 * immutable; byte arrays inside them must not be changed by callers).
 *
 * @param payloadName                name of the payload (the ESP boot path when started from an ESP)
 * @param payloadAuthenticodeSha256  SHA-256 Authenticode digest of the payload started first
 * @param policy                     extend and boundary sets, policy id
 * @param toolVersion                kexec-measured's version, as in the boundary event
 * @param firmwareLogSource          where the firmware log was read
 * @param firmwareLog                the firmware log, kept byte for byte as the head of the new log
 * @param pcrSource                  where {@code pcrsBefore} came from (a TCTI, or "file NAME" for a snapshot)
 * @param tpmBanks                   the TPM's active banks: every extend carries exactly these
 * @param logBanks                   the firmware log's banks: every log record carries exactly these
 * @param pcrsBefore                 all 24 PCRs of every TPM bank, read once before anything else
 * @param divergences                PCRs the firmware log does not explain (reported, never hidden)
 * @param boundary                   the kexec boundary event (its nonce from the TPM's RNG)
 * @param records                    every measurement in order, boundary records first
 * @param predictedPcrs              all 24 PCRs of every TPM bank after the commit: pcrsBefore + the planned extends
 * @param predictedLog               the continued log after the commit: firmware records + every logged record
 * @param handOff                    what the payload hands to the kernel (kernel, initrd, cmdline); null in resume mode
 * @param stats                      time and TPM commands the plan took
 * @param notes                      remarks for the user and the manifest (banks missing on one side, …)
 * @param resume                     resume mode ({@code boot --full-emulation}): the state where the payload's
 *                                   ExitBootServices returned, which the kexec package loads with kexec_load; else null
 * @param images                     every image the run started, in order (the payload, each LoadImage, each PE image the
 *                                   chain loaded itself and measured) and the kernel handed over: what a policy's payload
 *                                   trust checks; empty for a plan restored from a pending boot (decided at preparation)
 */
public record Plan(String payloadName, byte[] payloadAuthenticodeSha256, BootPolicy policy, String toolVersion,
                   String firmwareLogSource, EventLog firmwareLog, String pcrSource, List<HashAlg> tpmBanks,
                   List<HashAlg> logBanks, PcrSet pcrsBefore, List<Divergence> divergences, BoundaryEvent boundary,
                   List<PlannedRecord> records, PcrSet predictedPcrs, EventLog predictedLog, HandOff handOff,
                   Stats stats, List<String> notes, PostEbsState resume, List<LoadedImage> images) {

    /** A plan without its images (restored from a pending boot, whose payload trust was decided at preparation). */
    public Plan(String payloadName, byte[] payloadAuthenticodeSha256, BootPolicy policy, String toolVersion,
                String firmwareLogSource, EventLog firmwareLog, String pcrSource, List<HashAlg> tpmBanks,
                List<HashAlg> logBanks, PcrSet pcrsBefore, List<Divergence> divergences, BoundaryEvent boundary,
                List<PlannedRecord> records, PcrSet predictedPcrs, EventLog predictedLog, HandOff handOff,
                Stats stats, List<String> notes, PostEbsState resume) {
        this(payloadName, payloadAuthenticodeSha256, policy, toolVersion, firmwareLogSource, firmwareLog, pcrSource,
                tpmBanks, logBanks, pcrsBefore, divergences, boundary, records, predictedPcrs, predictedLog, handOff,
                stats, notes, resume, List.of());
    }

    /** A plan in file mode: the payload stopped at the Linux cut-over ({@code handOff}), no resume state. */
    public Plan(String payloadName, byte[] payloadAuthenticodeSha256, BootPolicy policy, String toolVersion,
                String firmwareLogSource, EventLog firmwareLog, String pcrSource, List<HashAlg> tpmBanks,
                List<HashAlg> logBanks, PcrSet pcrsBefore, List<Divergence> divergences, BoundaryEvent boundary,
                List<PlannedRecord> records, PcrSet predictedPcrs, EventLog predictedLog, HandOff handOff,
                Stats stats, List<String> notes) {
        this(payloadName, payloadAuthenticodeSha256, policy, toolVersion, firmwareLogSource, firmwareLog, pcrSource,
                tpmBanks, logBanks, pcrsBefore, divergences, boundary, records, predictedPcrs, predictedLog, handOff,
                stats, notes, null);
    }

    /**
     * @param tpmCommands the TPM commands the plan sent, by TPM_CC: only reads (GetCapability,
     *                    PCR_Read, GetRandom); empty when planned against a snapshot
     */
    public record Stats(long planMicros, long emulationMicros, long hashMicros, long hashBytes, long largeHashMicros,
                        long largeHashBytes, SortedMap<Integer, Long> tpmCommands) {
        public Stats {
            tpmCommands = Collections.unmodifiableSortedMap(new TreeMap<>(tpmCommands));
        }
    }

    public Plan {
        payloadAuthenticodeSha256 = payloadAuthenticodeSha256.clone();
        tpmBanks = List.copyOf(tpmBanks);
        logBanks = List.copyOf(logBanks);
        divergences = List.copyOf(divergences);
        records = List.copyOf(records);
        notes = List.copyOf(notes);
        images = List.copyOf(images);
    }

    @Override
    public byte[] payloadAuthenticodeSha256() {
        return payloadAuthenticodeSha256.clone();
    }

    /** Records of the firmware log (the head of {@link #predictedLog}). */
    public int firmwareRecords() {
        return firmwareLog.events().size();
    }

    /** The records the commit extends, in order. */
    public List<PlannedRecord> extendRecords() {
        return records.stream().filter(r -> r.disposition() == PlannedRecord.Disposition.EXTEND).toList();
    }

    /** The records kept in the side record only (PCRs outside the extend set). */
    public List<PlannedRecord> sideRecords() {
        return records.stream().filter(r -> r.disposition() == PlannedRecord.Disposition.SIDE_RECORD).toList();
    }

    /** Records the commit appends to the log (extended and log-only), i.e. predictedLog minus the firmware's. */
    public int loggedRecords() {
        return predictedLog.events().size() - firmwareRecords();
    }
}
