package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/** Writes a protocol's function table (one trap slot per function) into firmware memory. */
final class ProtocolTable {
    private ProtocolTable() {
    }

    /**
     * Allocates {@code size} bytes and fills the first {@code names.length} pointers with trap slots named
     * "{@code prefix}.{@code name}"; returns the table's address (the protocol interface).
     */
    static long build(ProtocolContext ctx, String prefix, String[] names, Service[] fns, long size) {
        long a = ctx.allocator().firmwareAlloc(Math.max(size, 8L * names.length));
        for (int i = 0; i < names.length; i++) {
            ctx.mem().putU64(a + 8L * i, ctx.slots().slot(prefix + "." + names[i], fns[i]));
        }
        return a;
    }
}
