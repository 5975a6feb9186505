package org.kexecmeasured.tpm;

import org.kexecmeasured.util.HashAlg;

import java.util.List;

/**
 * TPM capabilities (TPM2_GetCapability, TPM_PT_* fixed properties and TPM_CAP_PCRS).
 *
 * @param manufacturer    TPM_PT_MANUFACTURER as ASCII (e.g. "IBM")
 * @param vendorString    TPM_PT_VENDOR_STRING_1..4 as ASCII
 * @param firmwareVersion1 TPM_PT_FIRMWARE_VERSION_1 (raw)
 * @param firmwareVersion2 TPM_PT_FIRMWARE_VERSION_2 (raw)
 * @param family          TPM_PT_FAMILY_INDICATOR ("2.0")
 * @param revision        TPM_PT_REVISION / 100, e.g. "1.64"
 * @param activeBanks     banks with at least one PCR allocated
 * @param allocatedBanks  all banks the TPM reports (some may have no PCRs)
 * @param pcrCount        TPM_PT_PCR_COUNT
 */
public record TpmInfo(String manufacturer, String vendorString, int firmwareVersion1, int firmwareVersion2,
                      String family, String revision, int maxCommandSize, int maxResponseSize,
                      int maxDigestSize, int pcrCount, List<HashAlg> activeBanks, List<HashAlg> allocatedBanks) {

    /** Firmware version as major.minor.x.y from the two 32-bit words (16 bits each), as fwupd prints it. */
    public String firmwareVersion() {
        return (firmwareVersion1 >>> 16) + "." + (firmwareVersion1 & 0xFFFF) + "."
                + (firmwareVersion2 >>> 16) + "." + (firmwareVersion2 & 0xFFFF);
    }
}
