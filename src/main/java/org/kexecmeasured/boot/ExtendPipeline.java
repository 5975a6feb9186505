package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmCommandException;
import org.kexecmeasured.tpm.TpmException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where each measurement goes. PCRs in the policy's extend set: journal intent (fsync) → one
 * TPM2_PCR_Extend with every active bank → journal done → append to the log. Other PCRs: the side
 * record only. A payload event for a PCR whose boundary record is not in yet is refused (the boundary
 * spec's rule 1 holds by construction, not by convention).
 */
public final class ExtendPipeline implements ChainMeasurer.Sink {

    /** One extended record (its journal sequence number and where it came from). */
    public record Extended(long seq, Measurement measurement, ChainMeasurer.Origin origin) {
    }

    /** One record that was not extended (PCR outside the extend set). */
    public record NotExtended(Measurement measurement, ChainMeasurer.Origin origin) {
    }

    /** The TPM did not (or may not have) performed extend {@code seq}. */
    public static final class ExtendFailedException extends RuntimeException {
        private final long seq;
        private final Measurement measurement;
        private final boolean outcomeUnknown;

        ExtendFailedException(String message, long seq, Measurement m, boolean outcomeUnknown, Throwable cause) {
            super(message, cause);
            this.seq = seq;
            this.measurement = m;
            this.outcomeUnknown = outcomeUnknown;
        }

        public long seq() {
            return seq;
        }

        public Measurement measurement() {
            return measurement;
        }

        /** True when the TPM did not answer (the extend may or may not have happened). */
        public boolean outcomeUnknown() {
            return outcomeUnknown;
        }
    }

    static final int EV_NO_ACTION = 0x3;

    private final Tpm tpm;
    private final List<HashAlg> tpmBanks;
    private final Journal journal;
    private final Path journalFile;
    private final BootPolicy policy;
    private final EventLog.Builder log;
    private final List<HashAlg> logBanks;
    private final Set<Integer> bounded = new HashSet<>();
    private final List<Extended> extended = new ArrayList<>();
    private final List<NotExtended> notExtended = new ArrayList<>();
    private final List<java.util.function.Consumer<byte[]>> appendListeners = new ArrayList<>();

    public ExtendPipeline(Tpm tpm, List<HashAlg> tpmBanks, Journal journal, Path journalFile, BootPolicy policy,
                          EventLog.Builder log, List<HashAlg> logBanks) {
        this.tpm = tpm;
        this.tpmBanks = List.copyOf(tpmBanks);
        this.journal = journal;
        this.journalFile = journalFile;
        this.policy = policy;
        this.log = log;
        this.logBanks = List.copyOf(logBanks);
    }

    @Override
    public void accept(Measurement m, ChainMeasurer.Origin origin) {
        int pcr = m.pcr();
        if (origin != ChainMeasurer.Origin.BOUNDARY && carriesBoundaryTag(m)) {
            // a payload that logs a boundary record could fake a new "kexec generation" and make a
            // verifier attribute the records after it to a payload of its choice
            throw new IllegalStateException("refused: a " + origin.name().toLowerCase(java.util.Locale.ROOT)
                    + " event for PCR " + pcr + " carries the kexec boundary tag 0x"
                    + Integer.toHexString(BoundaryEvent.TAG_ID) + "; only kexec-measured writes boundary records");
        }
        if (origin == ChainMeasurer.Origin.BOUNDARY) {
            bounded.add(pcr);
        } else if (policy.boundarySet().contains(pcr) && !bounded.contains(pcr)) {
            throw new IllegalStateException("a " + origin + " event for PCR " + pcr + " before its boundary record");
        }
        if (!policy.extendsPcr(pcr)) {
            notExtended.add(new NotExtended(m, origin));
            return;
        }
        if (m.eventType() == EV_NO_ACTION) {
            // as EDK2's Tcg2Dxe: logged with all-zero digests, never extended (replay skips it)
            Map<HashAlg, byte[]> zero = new EnumMap<>(HashAlg.class);
            for (HashAlg a : logBanks) zero.put(a, new byte[a.size]);
            appendToLog(pcr, m.eventType(), zero, m.eventData());
            return;
        }
        long seq;
        try {
            seq = journal.intent(m);
        } catch (IOException e) {
            throw new UncheckedIOException("journal " + journalFile + ": cannot record the intent to extend PCR "
                    + pcr + " (nothing was sent to the TPM): " + e.getMessage(), e);
        }
        try {
            tpm.extend(pcr, select(m.digests(), tpmBanks));
        } catch (TpmCommandException e) {
            // the TPM answered with an error code: the extend did not happen
            try {
                journal.failed(seq, e.getMessage());
            } catch (IOException io) {
                e.addSuppressed(io);
            }
            throw failure(seq, m, origin, false, e);
        } catch (TpmException e) {
            throw failure(seq, m, origin, true, e);
        }
        try {
            journal.done(seq);
        } catch (IOException e) {
            throw new UncheckedIOException("journal " + journalFile + ": extend #" + seq + " reached the TPM but its "
                    + "'done' line could not be written: " + e.getMessage(), e);
        }
        extended.add(new Extended(seq, m, origin));
        appendToLog(pcr, m.eventType(), select(m.digests(), logBanks), m.eventData());
    }

    static boolean carriesBoundaryTag(Measurement m) {
        byte[] d = m.eventData();
        return m.eventType() == BoundaryEvent.EV_EVENT_TAG && d.length >= 4
                && org.kexecmeasured.util.Le.i32(d, 0) == BoundaryEvent.TAG_ID;
    }

    private void appendToLog(int pcr, int type, Map<HashAlg, byte[]> digests, byte[] data) {
        log.append(pcr, type, digests, data);
        if (!appendListeners.isEmpty()) {
            byte[] rec = org.kexecmeasured.eventlog.EventLogWriter.record(log.last());
            for (java.util.function.Consumer<byte[]> l : appendListeners) l.accept(rec);
        }
    }

    private ExtendFailedException failure(long seq, Measurement m, ChainMeasurer.Origin origin, boolean unknown,
                                          TpmException e) {
        String what = String.format("extend #%d (PCR %d, event type 0x%x, %s)", seq, m.pcr(), m.eventType(),
                origin.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
        String msg = "the TPM failed at " + what + ": " + e.getMessage() + "; journal " + journalFile + ": "
                + extended.size() + " earlier extend(s) acknowledged, #" + seq
                + (unknown ? " sent without an answer (it may or may not have reached the TPM)" : " refused by the TPM")
                + "; run 'kexec-measured eventlog recover --journal " + journalFile + " --tpm TCTI' once the TPM answers";
        return new ExtendFailedException(msg, seq, m, unknown, e);
    }

    private static Map<HashAlg, byte[]> select(Map<HashAlg, byte[]> all, List<HashAlg> banks) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        for (HashAlg a : banks) {
            byte[] d = all.get(a);
            if (d == null) throw new IllegalStateException("no " + a.tpmName + " digest computed");
            m.put(a, d);
        }
        return m;
    }

    public List<Extended> extended() {
        return Collections.unmodifiableList(extended);
    }

    public List<NotExtended> notExtended() {
        return Collections.unmodifiableList(notExtended);
    }

    public EventLog log() {
        return log.build();
    }

    /** The log as it stands (what the guest's GetEventLog copies). */
    public byte[] logBytes() {
        return log.build().toBytes();
    }

    /** Called with each record's bytes as it is appended to the log (the guest's final-events view). */
    public void onAppend(java.util.function.Consumer<byte[]> listener) {
        appendListeners.add(listener);
    }
}
