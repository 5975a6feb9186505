package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.RandomSource;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/** Randomness the emulated firmware hands out (EFI_RNG_PROTOCOL): the host's, or a reproducible stream. */
public interface HostRandom extends RandomSource {

    /** The host's SecureRandom. */
    static HostRandom secure() {
        SecureRandom r = new SecureRandom();
        return r::nextBytes;
    }

    /** SHA-256(seed || counter) blocks: the same seed gives the same bytes in every run. */
    static HostRandom seeded(long seed) {
        return new HostRandom() {
            private long counter;

            @Override
            public synchronized void fill(byte[] out) {
                MessageDigest md;
                try {
                    md = MessageDigest.getInstance("SHA-256");
                } catch (NoSuchAlgorithmException e) {
                    throw new IllegalStateException(e);
                }
                for (int o = 0; o < out.length; o += 32) {
                    md.reset();
                    for (int i = 0; i < 8; i++) md.update((byte) (seed >>> (8 * i)));
                    long c = counter++;
                    for (int i = 0; i < 8; i++) md.update((byte) (c >>> (8 * i)));
                    byte[] block = md.digest();
                    System.arraycopy(block, 0, out, o, Math.min(32, out.length - o));
                }
            }
        };
    }
}
