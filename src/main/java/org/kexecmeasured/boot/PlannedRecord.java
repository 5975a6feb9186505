package org.kexecmeasured.boot;

import org.kexecmeasured.util.HashAlg;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * One measurement of a plan, in the order the run made it, and what the commit does with it.
 *
 * @param measurement PCR, event type, a digest for every bank the TPM extends or the log carries, event data
 * @param origin      who measured it
 * @param disposition what the commit does with it
 */
public record PlannedRecord(Measurement measurement, Origin origin, Disposition disposition) {

    /** TCG EV_NO_ACTION: logged, never extended. */
    static final int EV_NO_ACTION = 0x3;

    public enum Disposition {
        /** Journaled, extended (one TPM2_PCR_Extend with every active bank), appended to the log. */
        EXTEND,
        /** EV_NO_ACTION in a PCR of the extend set: appended to the log with all-zero digests, never extended (as EDK2's Tcg2Dxe). */
        LOG_ONLY,
        /** A PCR outside the extend set: neither extended nor logged (the log stays replayable); kept in {@code not-extended.json}. */
        SIDE_RECORD
    }

    /** The digests the TPM extends: exactly one per active bank. */
    public Map<HashAlg, byte[]> tpmDigests(List<HashAlg> tpmBanks) {
        return select(measurement.digests(), tpmBanks);
    }

    /** The digests the log record carries: the log's banks (all zero for {@link Disposition#LOG_ONLY}). */
    public Map<HashAlg, byte[]> logDigests(List<HashAlg> logBanks) {
        if (disposition == Disposition.LOG_ONLY) {
            Map<HashAlg, byte[]> zero = new EnumMap<>(HashAlg.class);
            for (HashAlg a : logBanks) zero.put(a, new byte[a.size]);
            return zero;
        }
        return select(measurement.digests(), logBanks);
    }

    static Map<HashAlg, byte[]> select(Map<HashAlg, byte[]> all, List<HashAlg> banks) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        for (HashAlg a : banks) {
            byte[] d = all.get(a);
            if (d == null) throw new IllegalStateException("no " + a.tpmName + " digest computed");
            m.put(a, d);
        }
        return m;
    }
}
