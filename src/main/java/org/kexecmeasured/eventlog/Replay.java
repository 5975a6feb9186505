package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Replays a log into PCR values per bank: PCR[i] = H(PCR[i] || digest) for every record except
 * EV_NO_ACTION (never extended). PCR 0 starts at 00…00‖locality when a StartupLocality event is
 * present. Records for PCR indices outside 0–23 are not extended (see {@link Quirks}).
 */
public final class Replay {
    public static final int PCR_COUNT = 24;
    private static final byte[] STARTUP_LOCALITY = "StartupLocality\0".getBytes(StandardCharsets.US_ASCII);

    private Replay() {
    }

    /** PCR values per bank the log carries, 24 PCRs each. */
    public static Map<HashAlg, byte[][]> replay(EventLog log) {
        return replay(log, log.banks());
    }

    /** Above this many records the banks are replayed on parallel threads (each bank is independent). */
    static final int PARALLEL_THRESHOLD = 4096;

    /** PCR values for the selected banks (each must be a bank of the log). */
    public static Map<HashAlg, byte[][]> replay(EventLog log, List<HashAlg> banks) {
        int locality = startupLocality(log);
        List<Event> events = log.events();
        byte[][][] results = new byte[banks.size()][][];
        if (banks.size() > 1 && events.size() >= PARALLEL_THRESHOLD) {
            Thread[] threads = new Thread[banks.size() - 1];
            RuntimeException[] failure = new RuntimeException[1];
            for (int b = 1; b < banks.size(); b++) {
                final int idx = b;
                threads[b - 1] = new Thread(new Runnable() { // no lambda: keeps one-shot start-up lean
                    @Override
                    public void run() {
                        try {
                            results[idx] = replayBank(events, banks.get(idx), locality);
                        } catch (RuntimeException e) {
                            failure[0] = e;
                        }
                    }
                }, "replay-" + banks.get(b).tpmName);
                threads[b - 1].start();
            }
            results[0] = replayBank(events, banks.get(0), locality);
            for (Thread t : threads) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("replay interrupted", e);
                }
            }
            if (failure[0] != null) throw failure[0];
        } else {
            for (int b = 0; b < banks.size(); b++) results[b] = replayBank(events, banks.get(b), locality);
        }
        Map<HashAlg, byte[][]> out = new LinkedHashMap<>();
        for (int b = 0; b < banks.size(); b++) out.put(banks.get(b), results[b]);
        return out;
    }

    private static byte[][] replayBank(List<Event> events, HashAlg bank, int locality) {
        byte[][] pcrs = new byte[PCR_COUNT][bank.size];
        if (locality > 0) pcrs[0][bank.size - 1] = (byte) locality;
        for (int i = 0, n = events.size(); i < n; i++) {
            Event e = events.get(i);
            if (e.eventType() == EventType.EV_NO_ACTION || e.pcrIndex() >= PCR_COUNT) continue;
            byte[] d = e.digestNoCopy(bank.algId);
            if (d == null) continue; // cannot extend; Verification reports the PCR as unverifiable (recordsLackingDigest)
            // HashAlg.extend: OpenSSL's one-shot digest where it loads (the JDK's SHA code runs interpreted in a
            // short command: ~0.1 ms an extend against a few µs)
            int pcr = (int) e.pcrIndex();
            pcrs[pcr] = bank.extend(pcrs[pcr], d);
        }
        return pcrs;
    }

    /** PCRs that at least one extending record touches (the ones tpm2_eventlog prints). */
    public static BitSet extendedPcrs(EventLog log) {
        BitSet s = new BitSet(PCR_COUNT);
        for (Event e : log.events()) {
            if (e.eventType() != EventType.EV_NO_ACTION && e.pcrIndex() < PCR_COUNT) s.set((int) e.pcrIndex());
        }
        return s;
    }

    /**
     * Records that extend {@code pcr} but carry no digest for {@code bank}. {@link #replay} cannot
     * extend that bank with them, so the bank's replayed value for the PCR proves nothing: a forged
     * record could omit exactly the bank being checked. {@link Verification} reports such PCRs as failing.
     */
    public static List<Event> recordsLackingDigest(EventLog log, HashAlg bank, int pcr) {
        List<Event> l = new ArrayList<>();
        for (Event e : log.events()) {
            if (e.eventType() != EventType.EV_NO_ACTION && e.pcrIndex() == pcr && e.digestNoCopy(bank.algId) == null) l.add(e);
        }
        return l;
    }

    /** The records that extend a PCR (what a mismatch report lists). */
    public static List<Event> eventsFeeding(EventLog log, int pcr) {
        List<Event> l = new ArrayList<>();
        for (Event e : log.events()) {
            if (e.eventType() != EventType.EV_NO_ACTION && e.pcrIndex() == pcr) l.add(e);
        }
        return l;
    }

    /** The locality of the first StartupLocality EV_NO_ACTION event for PCR 0, or 0 when there is none. */
    public static int startupLocality(EventLog log) {
        Event e = startupLocalityEvent(log);
        return e == null ? 0 : e.dataNoCopy()[STARTUP_LOCALITY.length] & 0xff;
    }

    static Event startupLocalityEvent(EventLog log) {
        for (Event e : log.events()) {
            if (e.eventType() == EventType.EV_NO_ACTION && e.pcrIndex() == 0 && isStartupLocality(e.dataNoCopy())) return e;
        }
        return null;
    }

    static boolean isStartupLocality(byte[] d) {
        if (d.length != STARTUP_LOCALITY.length + 1) return false;
        for (int i = 0; i < STARTUP_LOCALITY.length; i++) {
            if (d[i] != STARTUP_LOCALITY[i]) return false;
        }
        return true;
    }
}
