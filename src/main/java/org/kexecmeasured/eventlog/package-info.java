/**
 * TCG firmware event logs as a pure library: {@link org.kexecmeasured.eventlog.EventLogParser}
 * reads both layouts (SHA-1 TCG_PCR_EVENT and crypto-agile TCG_PCR_EVENT2 with the Spec ID
 * header) into an immutable {@link org.kexecmeasured.eventlog.EventLog};
 * {@link org.kexecmeasured.eventlog.EventLogWriter} writes it back byte for byte and
 * {@link org.kexecmeasured.eventlog.EventLog.Builder} appends records (the TCG2 shim's side);
 * {@link org.kexecmeasured.eventlog.Replay} computes PCRs per bank;
 * {@link org.kexecmeasured.eventlog.Verification} compares them with a
 * {@link org.kexecmeasured.eventlog.PcrSet}. Firmware quirks live in
 * {@link org.kexecmeasured.eventlog.Quirks} as named findings and never alter parse or replay.
 * {@link org.kexecmeasured.eventlog.ChainSegments} says who wrote each record of a continued log
 * (firmware, a running OS, each kexec boundary and the generation it starts, the payload after it).
 * Typed views of event data are in {@code decode}, exports (CEL-JSON, tpm2_eventlog-like YAML,
 * JSON, the self-contained HTML view) in {@code export}. No TPM access and no emulator here.
 */
package org.kexecmeasured.eventlog;
