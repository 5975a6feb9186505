package org.kexecmeasured.tpm;

/**
 * A whole TPM connection: the PCR part ({@link PcrTpm}: banks, read, extend, random, command
 * counts) and the sealing part ({@link SealingTpm}: policy sessions, seal, unseal). Obtain one
 * with {@link TpmFactory#open(String)} (or an injected {@link TpmOpener}). Code that only measures
 * takes a {@link PcrTpm}; code that only plans takes a {@link PcrReader}.
 */
public interface Tpm extends PcrTpm, SealingTpm {
}
