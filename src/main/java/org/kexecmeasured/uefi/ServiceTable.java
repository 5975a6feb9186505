package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.Service;

import java.util.function.Function;
import java.util.zip.CRC32;

/** Writes UEFI tables: the EFI_TABLE_HEADER with its CRC32, and service tables of trap slots. */
final class ServiceTable {

    /** sizeof(EFI_TABLE_HEADER). */
    static final int HEADER_SIZE = 24;
    /** EFI_SPECIFICATION_VERSION reported in every header: 2.70. */
    static final int REVISION = (2 << 16) | 70;

    private ServiceTable() {
    }

    /**
     * Allocates a service table in firmware memory: the header, then one trap slot per constant of
     * {@code slots} in declaration (= table) order, each running {@code implementation.apply(slot)}.
     */
    static <E extends Enum<E>> long write(Machine machine, long signature, E[] slots, Function<E, Service> implementation) {
        int size = HEADER_SIZE + 8 * slots.length;
        long table = machine.fwAlloc(size);
        // built on the host and written at once (one guest write instead of one per slot and header field)
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (E s : slots) {
            b.putLong(HEADER_SIZE + 8 * s.ordinal(), machine.slot(s.name(), implementation.apply(s)));
        }
        header(b.array(), signature, size);
        machine.mem().write(table, b.array());
        return table;
    }

    /** Fills in the EFI_TABLE_HEADER of {@code table} (its first {@code size} bytes), CRC32 last. */
    private static void header(byte[] table, long signature, int size) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(table).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, signature).putInt(8, REVISION).putInt(12, size).putInt(16, 0).putInt(20, 0);
        CRC32 c = new CRC32();
        c.update(table, 0, size);
        b.putInt(16, (int) c.getValue());
    }

    /** EFI_TABLE_HEADER {Signature, Revision, HeaderSize, CRC32, Reserved}; the CRC covers HeaderSize bytes. */
    static void writeHeader(GuestMemory mem, long table, long signature, int size) {
        mem.putU64(table, signature);
        mem.putU32(table + 8, REVISION);
        mem.putU32(table + 12, size);
        mem.putU32(table + 16, 0); // CRC32 is computed with the field zero
        mem.putU32(table + 20, 0);
        mem.putU32(table + 16, crc32(mem.read(table, size)));
    }

    static long crc32(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }
}
