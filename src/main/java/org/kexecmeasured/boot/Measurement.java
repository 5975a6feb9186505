package org.kexecmeasured.boot;

import org.kexecmeasured.util.HashAlg;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * One event as it goes to the log and the TPM: PCR index, TCG event type, the digest per bank,
 * and the event data exactly as it will be logged.
 */
public record Measurement(int pcr, int eventType, Map<HashAlg, byte[]> digests, byte[] eventData) {
    public Measurement {
        if (pcr < 0 || pcr > 23) {
            throw new IllegalArgumentException("PCR index out of range: " + pcr);
        }
        digests = Collections.unmodifiableMap(new EnumMap<>(digests));
        eventData = eventData.clone();
    }

    /** Digests of {@code dataToHash} in each bank (each bank hashes the data once). */
    public static Measurement of(int pcr, int eventType, Iterable<HashAlg> banks, byte[] dataToHash, byte[] eventData) {
        Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
        for (HashAlg a : banks) {
            d.put(a, a.digest(dataToHash));
        }
        return new Measurement(pcr, eventType, d, eventData);
    }

    @Override
    public byte[] eventData() {
        return eventData.clone();
    }
}
