package org.kexecmeasured.tpm;

/** Opens a {@link Tpm} from a TCTI string (see {@link Tcti}). */
public final class TpmFactory {
    private TpmFactory() {
    }

    /**
     * @param tcti a TCTI string, or null/blank for $TPM2TOOLS_TCTI, else device:/dev/tpmrm0
     */
    public static Tpm open(String tcti) {
        return new TssTpm(Tcti.parse(Tcti.resolve(tcti)).open());
    }
}
