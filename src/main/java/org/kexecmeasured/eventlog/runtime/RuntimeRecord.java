package org.kexecmeasured.eventlog.runtime;

import org.kexecmeasured.util.HashAlg;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * One extend the running OS made after the firmware's log ended, read from the OS's own log.
 *
 * @param source      which log it came from
 * @param index       record number in that log, from 0
 * @param pcr         the PCR extended
 * @param digests     what was extended, per bank; a bank the log does not give is absent
 * @param raw         the record exactly as read (the event data of its continued-log record)
 * @param description one line for people ("boot_aggregate", "phase enter-initrd", …)
 */
public record RuntimeRecord(Source source, int index, int pcr, Map<HashAlg, byte[]> digests, byte[] raw,
                            String description) {

    /** The OS logs kexec-measured reads, with the EV_EVENT_TAG id their records carry in a continued log. */
    public enum Source {
        /** Linux IMA, {@code /sys/kernel/security/ima/binary_runtime_measurements}: tag "KXMI". */
        IMA(0x4B584D49),
        /** systemd's userspace log {@code /run/log/systemd/tpm2-measure.log} (systemd 253+): tag "KXMS". */
        SYSTEMD(0x4B584D53);

        public final int tagId;

        Source(int tagId) {
            this.tagId = tagId;
        }
    }

    public RuntimeRecord {
        if (pcr < 0 || pcr > 23) throw new IllegalArgumentException("PCR out of range: " + pcr);
        digests = Collections.unmodifiableMap(new EnumMap<>(digests));
        raw = raw.clone();
    }

    @Override
    public byte[] raw() {
        return raw.clone();
    }
}
