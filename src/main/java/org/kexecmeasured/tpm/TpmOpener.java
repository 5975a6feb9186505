package org.kexecmeasured.tpm;

/**
 * Opens a TPM from a TCTI string. The CLI gets one injected ({@link TpmFactory#open} in
 * production); tests pass an opener that wraps the real TPM (e.g. to kill it mid-run).
 */
@FunctionalInterface
public interface TpmOpener {
    /** @param tcti a TCTI string, or null/blank for $TPM2TOOLS_TCTI, else device:/dev/tpmrm0 */
    Tpm open(String tcti);

    /** The real TPM behind a TCTI string. */
    TpmOpener DEFAULT = TpmFactory::open;
}
