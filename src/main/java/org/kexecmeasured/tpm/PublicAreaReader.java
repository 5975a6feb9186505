package org.kexecmeasured.tpm;

/**
 * Read-only look-ups of objects that live in the TPM: what the policy engine needs to evaluate a
 * persistent sealed object, an NV index with a PCR policy, or systemd-pcrlock's policy NV index.
 * None of these commands changes TPM state.
 */
public interface PublicAreaReader {
    /** TPM2_ReadPublic of a loaded or persistent object; the TPM's Name is checked against the area. */
    TpmPublic readPublic(int handle);

    /** TPM2_NV_ReadPublic; the TPM's Name is checked against the area. */
    NvPublic nvReadPublic(int nvIndex);

    /**
     * TPM2_NV_Read of {@code size} bytes at offset 0 with owner authorization (empty owner password),
     * as systemd reads its pcrlock policy index (TPMA_NV_OWNERREAD).
     */
    byte[] nvReadAsOwner(int nvIndex, int size);
}
