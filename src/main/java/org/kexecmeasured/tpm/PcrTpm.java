package org.kexecmeasured.tpm;

import org.kexecmeasured.util.HashAlg;

import java.util.Map;
import java.util.SortedMap;

/**
 * The PCR part of a TPM: what a measured boot needs (read, extend, random) and nothing that seals
 * or authorizes. The boot pipeline depends on this interface only; {@link Tpm} adds the sealing
 * part ({@link SealingTpm}). Not thread-safe; one connection per instance.
 */
public interface PcrTpm extends PcrReader, AutoCloseable {

    /** The TCTI string this TPM was opened with. */
    String tcti();

    @Override
    default String source() {
        return tcti();
    }

    /** Manufacturer, firmware, spec revision, banks, buffer sizes (cached after the first call). */
    TpmInfo info();

    /**
     * One TPM2_PCR_Extend of {@code pcr} with a digest for every active bank. Refuses a map that
     * leaves out an active bank (that bank could later be extended to any value) or names an
     * inactive one.
     */
    void extend(int pcr, Map<HashAlg, byte[]> digests);

    /** TPM commands sent on this connection so far. */
    long commandCount();

    /** TPM commands sent on this connection so far, by TPM_CC. */
    @Override
    SortedMap<Integer, Long> commandCounts();

    @Override
    void close();
}
