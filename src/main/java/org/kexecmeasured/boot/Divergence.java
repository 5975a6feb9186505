package org.kexecmeasured.boot;

import org.kexecmeasured.util.HashAlg;

/**
 * A PCR whose TPM value the firmware log does not explain (extended without a log entry), or
 * cannot explain ({@code explanation} says why, e.g. records without this bank's digest; may be
 * null). Reported on the boot's output and in the manifest; never hidden.
 */
public record Divergence(HashAlg bank, int pcr, byte[] tpm, byte[] logReplay, String explanation) {
    public Divergence {
        tpm = tpm.clone();
        logReplay = logReplay.clone();
    }

    @Override
    public byte[] tpm() {
        return tpm.clone();
    }

    @Override
    public byte[] logReplay() {
        return logReplay.clone();
    }
}
