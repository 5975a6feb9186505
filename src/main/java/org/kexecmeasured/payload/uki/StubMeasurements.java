package org.kexecmeasured.payload.uki;

import org.kexecmeasured.util.HashAlg;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * What a UKI's own systemd-stub measured when it ran (in the emulator, above this package): every
 * HashLogExtendEvent up to the hand-off to the kernel, and the PCR values those events give from zero.
 *
 * @param profile  the profile booted ({@code @N}); null for a UKI without profiles
 * @param events   the measurements in order
 * @param pcrs     PCR → bank → value after the events, starting from zeros
 * @param kernel   true when the run reached the kernel hand-off (every stub measurement has been made)
 */
public record StubMeasurements(Integer profile, List<Event> events, Map<Integer, Map<HashAlg, byte[]>> pcrs, boolean kernel) {

    /** One measurement: PCR, TCG event type, the event's description as text, the digest per bank. */
    public record Event(int pcr, int eventType, String description, Map<HashAlg, byte[]> digests) {
    }

    /** Runs a UKI's stub; implemented where the emulator is (the payload package does not depend on it). */
    public interface Runner {
        /**
         * @param uki     the UKI file
         * @param profile the profile to boot (passed as the stub reads it: an {@code @N} first word of its
         *                LoadOptions), or null for the default
         * @param banks   the banks to compute
         * @throws org.kexecmeasured.util.BadInputException when the stub cannot be run to the kernel hand-off,
         *                                                  with the reason
         */
        StubMeasurements run(byte[] uki, Integer profile, Collection<HashAlg> banks);
    }
}
