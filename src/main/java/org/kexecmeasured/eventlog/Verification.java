package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;

/**
 * Compares a log's replay with expected PCR values. Each mismatching PCR is listed with the records
 * that feed it; a named quirk that would explain the difference is mentioned, never applied.
 */
public final class Verification {

    /**
     * One PCR of one bank whose replay differs from the expected value, or that the log cannot
     * verify at all: {@code lackingDigest} lists the records that extend the PCR without a digest for
     * the bank (then {@code replayed} skips them and the PCR fails whatever its value).
     */
    public record Mismatch(HashAlg bank, int pcr, byte[] expected, byte[] replayed, List<Event> events, String explanation,
                           List<Event> lackingDigest) {
        public Mismatch {
            lackingDigest = List.copyOf(lackingDigest);
        }

        public Mismatch(HashAlg bank, int pcr, byte[] expected, byte[] replayed, List<Event> events, String explanation) {
            this(bank, pcr, expected, replayed, events, explanation, List.of());
        }

        /** True when records feeding the PCR lack this bank's digest, so no value could be verified. */
        public boolean unverifiable() {
            return !lackingDigest.isEmpty();
        }
    }

    /** @param checked number of (bank, PCR) pairs compared; {@code skippedBanks} banks the set has but the log lacks */
    public record Result(List<Mismatch> mismatches, int checked, List<String> skippedBanks, List<String> notes) {
        public boolean ok() {
            return mismatches.isEmpty() && checked > 0;
        }
    }

    private Verification() {
    }

    private static final byte[] FF = new byte[64];

    static {
        Arrays.fill(FF, (byte) 0xff);
    }

    public static Result verify(EventLog log, PcrSet expected) {
        Map<HashAlg, byte[][]> replay = Replay.replay(log);
        BitSet extended = Replay.extendedPcrs(log);
        List<Mismatch> mm = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        boolean ebsMissing = Quirks.find(log).stream().anyMatch(f -> f.id().equals(Quirks.EBS_EVENTS_MISSING));
        int checked = 0;
        for (Map.Entry<HashAlg, Map<Integer, byte[]>> be : expected.values().entrySet()) {
            HashAlg bank = be.getKey();
            byte[][] pcrs = replay.get(bank);
            if (pcrs == null) {
                skipped.add(bank.tpmName);
                continue;
            }
            for (Map.Entry<Integer, byte[]> pe : be.getValue().entrySet()) {
                int i = pe.getKey();
                byte[] exp = pe.getValue();
                byte[] got = pcrs[i];
                checked++;
                List<Event> lacking = Replay.recordsLackingDigest(log, bank, i);
                if (!lacking.isEmpty()) {
                    // never "ok": a record without this bank's digest is not extended into the replay, so a
                    // forged record could carry only the digests of banks nobody checks
                    mm.add(new Mismatch(bank, i, exp.clone(), got.clone(), Replay.eventsFeeding(log, i),
                            unverifiableWhy(bank, i, lacking), lacking));
                    continue;
                }
                if (Arrays.equals(exp, got)) continue;
                // PCR 17–22 rest at FF…FF until a dynamic launch; a log without events for them cannot say more
                if (i >= 17 && i <= 22 && !extended.get(i) && Arrays.equals(exp, Arrays.copyOf(FF, bank.size))) continue;
                String why = null;
                if (i == 5 && ebsMissing && Arrays.equals(exp, withEbs(bank, got))) {
                    why = "the value matches if the unlogged \"" + Quirks.EBS_INVOCATION + "\" and \"" + Quirks.EBS_SUCCESS
                            + "\" events are added (quirk " + Quirks.EBS_EVENTS_MISSING + "); the log is incomplete";
                }
                mm.add(new Mismatch(bank, i, exp.clone(), got.clone(), Replay.eventsFeeding(log, i), why));
            }
        }
        if (!skipped.isEmpty()) notes.add("banks not in the log, not checked: " + String.join(", ", skipped));
        return new Result(mm, checked, skipped, notes);
    }

    private static String unverifiableWhy(HashAlg bank, int pcr, List<Event> lacking) {
        StringBuilder recs = new StringBuilder();
        for (Event e : lacking) recs.append(recs.length() == 0 ? "#" : ", #").append(e.index());
        return "unverifiable: record(s) " + recs + " extend PCR " + pcr + " but carry no " + bank.tpmName
                + " digest (finding " + Quirks.DIGESTS_DIFFER_FROM_SPEC_ID + "); the log cannot say what they extended"
                + " into the " + bank.tpmName + " bank";
    }

    private static byte[] withEbs(HashAlg bank, byte[] pcr) {
        byte[] v = bank.extend(pcr, bank.digest(Quirks.EBS_INVOCATION.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        return bank.extend(v, bank.digest(Quirks.EBS_SUCCESS.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
    }
}
