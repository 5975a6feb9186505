package org.kexecmeasured.eventlog;

/** The two on-disk layouts of a firmware event log. */
public enum LogFormat {
    /** TPM 1.2 style: TCG_PCR_EVENT records only, one SHA-1 digest each, no Spec ID event. */
    SHA1_LEGACY,
    /** TPM 2.0: a TCG_PCR_EVENT carrying "Spec ID Event03", then TCG_PCR_EVENT2 records. */
    CRYPTO_AGILE
}
