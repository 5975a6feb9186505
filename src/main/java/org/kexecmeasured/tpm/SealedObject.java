package org.kexecmeasured.tpm;

import org.kexecmeasured.util.BadInputException;

import java.util.Arrays;

/**
 * A sealed data object as TPM2_Create returns it: TPMT_PUBLIC and the TPM2B_PRIVATE contents.
 * {@link #publicBlob()} / {@link #privateBlob()} give the TPM2B forms tpm2_create writes with -u / -r.
 */
public record SealedObject(byte[] publicArea, byte[] privateArea) {
    public SealedObject {
        publicArea = publicArea.clone();
        privateArea = privateArea.clone();
    }

    public byte[] publicBlob() {
        return sized(publicArea);
    }

    public byte[] privateBlob() {
        return sized(privateArea);
    }

    /** From tpm2-tools style TPM2B files. */
    public static SealedObject fromBlobs(byte[] pub, byte[] priv) {
        return new SealedObject(unsized(pub, "public"), unsized(priv, "private"));
    }

    private static byte[] sized(byte[] b) {
        byte[] o = new byte[b.length + 2];
        o[0] = (byte) (b.length >>> 8);
        o[1] = (byte) b.length;
        System.arraycopy(b, 0, o, 2, b.length);
        return o;
    }

    private static byte[] unsized(byte[] b, String what) {
        if (b.length < 2) throw new BadInputException("sealed " + what + " blob shorter than its size field");
        int n = ((b[0] & 0xFF) << 8) | (b[1] & 0xFF);
        if (n != b.length - 2) throw new BadInputException("sealed " + what + " blob says " + n + " bytes, holds " + (b.length - 2));
        return Arrays.copyOfRange(b, 2, b.length);
    }
}
