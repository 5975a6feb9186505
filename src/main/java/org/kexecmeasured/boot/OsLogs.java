package org.kexecmeasured.boot;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.runtime.ImaLog;
import org.kexecmeasured.eventlog.runtime.OsRecords;
import org.kexecmeasured.eventlog.runtime.RuntimeRecord;
import org.kexecmeasured.eventlog.runtime.SystemdMeasureLog;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The running OS's own measurement logs (IMA, systemd), read at plan time so the continued log explains
 * the PCRs the firmware log does not (PCR 10, systemd's PCR 11 phases, PCR 15): their records the log
 * still lacks go after the firmware's records and before the boundary ({@code tcg2/os-records.md}).
 * A log that is not there adds nothing; its PCRs stay divergent and are reported as such.
 *
 * @param ima     IMA's binary list, null: not read (an offline plan, a test)
 * @param systemd systemd's userspace log, null: not read
 */
public record OsLogs(Path ima, Path systemd) {
    /** The running system's logs. */
    public static final OsLogs SYSTEM = new OsLogs(Path.of(ImaLog.PATH), Path.of(SystemdMeasureLog.PATH));
    /** No OS logs: the firmware log alone (predictions against a snapshot, tests). */
    public static final OsLogs NONE = new OsLogs(null, null);

    /** The log head a plan continues: {@code log} plus the OS records it lacks, each bank's digest included. */
    public EventLog head(EventLog log, List<HashAlg> banks, List<String> notes) {
        List<RuntimeRecord> imaRecords = ima == null ? List.of() : read(ima, b -> ImaLog.parse(b, banks));
        List<RuntimeRecord> sdRecords = systemd == null ? List.of() : read(systemd, SystemdMeasureLog::parse);
        OsRecords.Selection s = OsRecords.select(log, imaRecords, sdRecords);
        if (s.toAppend().isEmpty()) return log;
        EventLog.Builder b = log.toBuilder();
        int ima = 0, sd = 0, skipped = 0;
        for (RuntimeRecord r : s.toAppend()) {
            if (!r.digests().keySet().containsAll(log.banks())) {
                skipped++;
                notes.add("the " + r.source().name().toLowerCase() + " record " + r.index() + " (PCR " + r.pcr() + ", "
                        + r.description() + ") has no digest for every bank of the log: not added, PCR " + r.pcr()
                        + " stays unexplained");
                continue;
            }
            Map<HashAlg, byte[]> d = PlannedRecord.select(r.digests(), log.banks());
            b.append(r.pcr(), OsRecords.EV_EVENT_TAG, d, OsRecords.taggedEvent(r));
            if (r.source() == RuntimeRecord.Source.IMA) ima++;
            else sd++;
        }
        notes.add("the running OS's records added before the boundary: " + ima + " from IMA (" + this.ima + ", "
                + s.imaAlreadyLogged() + " already in the log), " + sd + " from systemd (" + systemd + ")"
                + (skipped > 0 ? ", " + skipped + " skipped" : ""));
        if (!s.unknownOrderPcrs().isEmpty()) {
            notes.add("PCRs " + s.unknownOrderPcrs() + " are extended by both IMA and systemd: their relative order is "
                    + "not recorded anywhere (IMA's records were placed first)");
        }
        return b.build();
    }

    private interface Parser {
        List<RuntimeRecord> parse(byte[] b);
    }

    private static List<RuntimeRecord> read(Path f, Parser p) {
        // absent: the OS does not keep that log (no IMA policy, an older systemd)
        if (Files.notExists(f)) return List.of();
        // securityfs reports size 0: BoundedFiles reads it as a stream, capped
        byte[] b = BoundedFiles.read(f, BoundedFiles.RUNTIME_LOG);
        try {
            return p.parse(b);
        } catch (BadInputException e) {
            throw new BadInputException(f + ": " + e.getMessage(), e);
        }
    }
}
