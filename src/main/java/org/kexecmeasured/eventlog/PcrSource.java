package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.HashAlg;

import java.util.List;

/**
 * Where expected PCR values come from for {@code eventlog verify}: a file today; the TPM layer
 * provides a live implementation (reading the PCRs of the given banks).
 */
@FunctionalInterface
public interface PcrSource {
    /** PCR values for (at least) the requested banks and PCRs; missing banks are reported, not invented. */
    PcrSet read(List<HashAlg> banks, java.util.BitSet pcrs);

    /** A short description for messages ("file pcrs.yaml", "TPM /dev/tpmrm0"). */
    default String describe() {
        return "PCR values";
    }
}
