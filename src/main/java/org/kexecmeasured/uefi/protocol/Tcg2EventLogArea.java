package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.uefi.spi.Allocator;
import org.kexecmeasured.uefi.spi.ConfigurationTables;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.uefi.spi.ServiceException;
import org.kexecmeasured.uefi.spi.Tcg2Measurer;

import java.util.List;

/**
 * The TCG_2 event log as the guest sees it, with EDK2 Tcg2Dxe's semantics: the log is copied into guest
 * memory at the first GetEventLog; every record logged after that call is appended there (while room
 * remains, else the log is marked truncated) and also to EFI_TCG2_FINAL_EVENTS_TABLE, a configuration
 * table installed from the start (Version 1, NumberOfEvents, TCG_PCR_EVENT2 records) in ACPI NVS memory.
 */
final class Tcg2EventLogArea {

    static final Guid FINAL_EVENTS_TABLE = Guid.parse("1e2ed096-30e2-4254-bd89-863bbef82325");
    /** Room for records logged after GetEventLog (a few hundred typical records). */
    static final int FINAL_TABLE_BYTES = 256 << 10;
    /** Room left in the guest's copy of the log for records logged after the first GetEventLog. */
    static final int LOG_HEADROOM = 1 << 20;

    private final GuestMemory m;
    private final Allocator allocator;
    private final Tcg2Measurer measurer;
    private final long finalTable;
    private long finalUsed;
    private long finalCount;
    private long log;
    private long capacity;
    private long used;
    private long lastEntry;
    private boolean truncated;
    private boolean copied;

    Tcg2EventLogArea(GuestMemory m, Allocator allocator, ConfigurationTables tables, Tcg2Measurer measurer) {
        this.m = m;
        this.allocator = allocator;
        this.measurer = measurer;
        this.finalTable = allocator.allocatePages(MemoryType.ACPIMemoryNVS, FINAL_TABLE_BYTES / 4096);
        if (finalTable < 0) {
            throw new ServiceException("out of memory for the TCG2 final events table");
        }
        m.putU64(finalTable, 1); // Version
        m.putU64(finalTable + 8, 0); // NumberOfEvents
        tables.install(FINAL_EVENTS_TABLE, finalTable);
        measurer.onLogAppend(this::appended);
    }

    /** GetEventLog(TCG_2): {location, lastEntry (0 if the log holds only its header), truncated 0/1}. */
    long[] getEventLog() {
        if (!copied) {
            byte[] cur = measurer.guestEventLog();
            EventLog parsed = EventLog.parse(cur);
            List<org.kexecmeasured.eventlog.Event> ev = parsed.events();
            capacity = ((cur.length + LOG_HEADROOM) + 4095L) & ~4095L;
            log = allocator.allocatePages(MemoryType.BootServicesData, capacity / 4096);
            if (log < 0) {
                throw new ServiceException("out of memory for the guest's copy of the event log");
            }
            m.write(log, cur);
            used = cur.length;
            lastEntry = ev.size() > 1 ? log + ev.get(ev.size() - 1).offset() : 0;
            copied = true;
        }
        return new long[]{log, lastEntry, truncated ? 1 : 0};
    }

    private void appended(byte[] record) {
        if (!copied) {
            return; // the record is part of the log the first GetEventLog copies
        }
        if (!truncated && used + record.length <= capacity) {
            m.write(log + used, record);
            lastEntry = log + used;
            used += record.length;
        } else {
            truncated = true;
        }
        if (16 + finalUsed + record.length <= FINAL_TABLE_BYTES) {
            m.write(finalTable + 16 + finalUsed, record);
            finalUsed += record.length;
            m.putU64(finalTable + 8, ++finalCount);
        }
    }
}
