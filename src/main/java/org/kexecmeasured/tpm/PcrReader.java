package org.kexecmeasured.tpm;

import org.kexecmeasured.util.HashAlg;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;

/**
 * Read-only access to PCR values: everything a measured-boot <em>plan</em> may ask of a TPM. A live
 * TPM ({@link PcrTpm}) implements it with TPM2_GetCapability, TPM2_PCR_Read and TPM2_GetRandom; an
 * offline {@link PcrSnapshot} (banks and values from a file) implements it without a TPM, so a
 * prediction can run on another machine.
 */
public interface PcrReader {

    /** Where the values come from, for messages: a TCTI string, or "file NAME". */
    String source();

    /** Active PCR banks, in the TPM's order. */
    List<HashAlg> banks();

    /**
     * Reads a PCR selection (a live TPM: as few TPM2_PCR_Read commands as it allows).
     *
     * @return per bank an array indexed by PCR number (length = highest selected PCR + 1,
     *         entries not selected are null)
     */
    Map<HashAlg, byte[][]> readPcrs(PcrSelection selection);

    /** {@code n} random bytes: the TPM's TPM2_GetRandom, or the host RNG for a snapshot. */
    byte[] random(int n);

    /**
     * Commands sent so far, by TPM_CC (see {@link CommandCode}); empty for a snapshot. Tests and
     * the statistics use it to show what a step sent, e.g. that a plan sent no write.
     */
    default SortedMap<Integer, Long> commandCounts() {
        return Collections.emptySortedMap();
    }
}
