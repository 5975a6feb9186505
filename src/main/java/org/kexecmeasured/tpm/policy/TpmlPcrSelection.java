package org.kexecmeasured.tpm.policy;

import org.kexecmeasured.util.HashAlg;

import java.util.List;

/**
 * A TPML_PCR_SELECTION as a policy digest reads it (TPM 2.0 Part 2, 10.9.7): the banks in order, each one's
 * PCRs ascending, and the marshalled structure. {@code tpm.PcrSelection} is the one implementation; this
 * interface lets {@code tpm.policy} compute digests without depending on {@code tpm}.
 */
public interface TpmlPcrSelection {

    /** The banks, in the selection's order. */
    List<HashAlg> banks();

    /** The PCRs selected in {@code alg}, ascending. */
    List<Integer> pcrs(HashAlg alg);

    /** The marshalled TPML_PCR_SELECTION. */
    byte[] toTpml();
}
