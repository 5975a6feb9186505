package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;

/**
 * Miscellaneous Boot Services (UEFI 2.10 §7.5): SetWatchdogTimer, Stall, CopyMem, SetMem,
 * GetNextMonotonicCount, InstallConfigurationTable, CalculateCrc32.
 *
 * <p>Guest lengths are UINTN: compared unsigned, so a length of 2^63 or more is as large as it looks.
 * CopyMem and SetMem return VOID; a range that is not guest RAM, or a destination the guest cannot write (the
 * read-execute trap page), stops the run before anything is written (real firmware would fault in the middle
 * of the copy: a page fault on a write-protected page), naming the service and its arguments.
 */
final class MiscServices {

    /** Largest CopyMem/SetMem done in one call: the host copies on the guest's time, inside the trap. */
    static final long MAX_COPY = 1L << 30;
    /** Largest CalculateCrc32 DataSize. */
    static final long MAX_CRC_DATA = 64L << 20;

    private final GuestMemory mem;
    private final EventServices events;
    private final SystemTable systemTable;
    private long monotonic;

    MiscServices(GuestMemory mem, EventServices events, SystemTable systemTable) {
        this.mem = mem;
        this.events = events;
        this.systemTable = systemTable;
    }

    /** SetWatchdogTimer(Timeout, WatchdogCode, DataSize, WatchdogData): no watchdog ever fires here. */
    long setWatchdogTimer(Call c) {
        return EfiStatus.SUCCESS;
    }

    /** Stall(Microseconds): advances the virtual clock. */
    long stall(Call c) {
        events.advanceTime(c.arg(0) * 1000);
        return EfiStatus.SUCCESS;
    }

    /** CopyMem(Destination, Source, Length): VOID, memmove semantics. */
    long copyMem(Call c) {
        long dst = c.arg(0);
        long src = c.arg(1);
        long len = c.arg(2);
        if (!mem.isMapped(src, len) || !mem.isMapped(dst, len)) {
            throw new EmulationException("Length 0x" + Long.toHexString(len) + " from 0x" + Long.toHexString(src)
                    + " to 0x" + Long.toHexString(dst) + " is not within guest RAM");
        }
        if (!mem.isGuestWritable(dst, len)) {
            throw mem.notWritable("copy", dst, len);
        }
        if (Long.compareUnsigned(len, MAX_COPY) > 0) {
            throw new EmulationException("Length 0x" + Long.toHexString(len) + " is more than the emulator copies in"
                    + " one call (" + (MAX_COPY >> 20) + " MiB)");
        }
        mem.copy(dst, src, len); // memmove; a deferred source (a payload section) is copied without touching RAM
        return 0;
    }

    /** SetMem(Buffer, Size, Value): VOID. */
    long setMem(Call c) {
        long buffer = c.arg(0);
        long size = c.arg(1);
        byte value = (byte) c.arg(2);
        if (!mem.isMapped(buffer, size)) {
            throw new EmulationException("Size 0x" + Long.toHexString(size) + " at 0x" + Long.toHexString(buffer)
                    + " is not within guest RAM");
        }
        if (!mem.isGuestWritable(buffer, size)) {
            throw mem.notWritable("fill", buffer, size);
        }
        if (Long.compareUnsigned(size, MAX_COPY) > 0) {
            throw new EmulationException("Size 0x" + Long.toHexString(size) + " is more than the emulator sets in"
                    + " one call (" + (MAX_COPY >> 20) + " MiB)");
        }
        mem.fill(buffer, size, value);
        return 0;
    }

    /** GetNextMonotonicCount(*Count). */
    long getNextMonotonicCount(Call c) {
        if (c.arg(0) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        mem.putU64(c.arg(0), ++monotonic);
        return EfiStatus.SUCCESS;
    }

    /** InstallConfigurationTable(*Guid, Table): Table 0 removes the entry. */
    long installConfigurationTable(Call c) {
        if (c.arg(0) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        return systemTable.installOrRemove(mem.guid(c.arg(0)), c.arg(1));
    }

    /** CalculateCrc32(*Data, DataSize, *Crc32). */
    long calculateCrc32(Call c) {
        long data = c.arg(0);
        long size = c.arg(1);
        long crcPtr = c.arg(2);
        if (data == 0 || size == 0 || crcPtr == 0 || Long.compareUnsigned(size, MAX_CRC_DATA) > 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        mem.putU32(crcPtr, ServiceTable.crc32(mem.read(data, size)));
        return EfiStatus.SUCCESS;
    }
}
