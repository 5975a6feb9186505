/**
 * Views of a parsed event log in other tools' formats: CEL-JSON (TCG Canonical Event Log, the sidecar
 * carries it), the YAML of tpm2-tools' {@code tpm2_eventlog}, a plain JSON view and the HTML chain of a
 * report. Each is written record by record from an {@link org.kexecmeasured.eventlog.EventLog}; none parses.
 */
package org.kexecmeasured.eventlog.export;
