package org.kexecmeasured.eventlog;

import java.util.List;

/**
 * A named observation about a log: a known firmware quirk or an inconsistency. Findings describe;
 * they never change the log or its replay.
 *
 * @param id       stable upper-case name (e.g. {@code EBS_EVENTS_MISSING}), for scripts
 * @param severity INFO (a known, harmless pattern) or WARNING (replay or trust may be affected)
 * @param records  record numbers involved (may be empty)
 */
public record Finding(String id, Severity severity, String message, List<Integer> records) {
    public enum Severity { INFO, WARNING }

    public Finding {
        records = List.copyOf(records);
    }

    @Override
    public String toString() {
        return severity + " " + id + ": " + message + (records.isEmpty() ? "" : " (records " + shortList(records) + ")");
    }

    private static String shortList(List<Integer> r) {
        if (r.size() <= 8) return r.toString().replaceAll("[\\[\\] ]", "");
        return r.subList(0, 8).toString().replaceAll("[\\[\\] ]", "") + ",… " + r.size() + " in all";
    }
}
