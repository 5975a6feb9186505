/**
 * The running OS's own measurement logs, read so a continued log can explain the PCRs the firmware
 * log does not: IMA's binary list ({@link org.kexecmeasured.eventlog.runtime.ImaLog}, PCR 10) and
 * systemd's userspace log ({@link org.kexecmeasured.eventlog.runtime.SystemdMeasureLog}, PCRs 11, 15, …).
 * Each record keeps its original bytes and what it extended per bank; {@link
 * org.kexecmeasured.eventlog.runtime.OsRecords} picks the records a continued log still lacks and
 * turns them into EV_EVENT_TAG records as specified in the repository's {@code tcg2/os-records.md}.
 * Pure: no TPM, no files (callers read the logs).
 */
package org.kexecmeasured.eventlog.runtime;
