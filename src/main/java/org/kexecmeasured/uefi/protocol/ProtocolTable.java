package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.uefi.Firmware;
import org.kexecmeasured.uefi.Service;

/** Writes a protocol's function table (one trap slot per function) into firmware memory. */
final class ProtocolTable {
    private ProtocolTable() {
    }

    /**
     * Allocates {@code size} bytes and fills the first {@code names.length} pointers with trap slots named
     * "{@code prefix}.{@code name}". The functions are created once per protocol class and shared by instances.
     */
    static long build(Firmware fw, String prefix, String[] names, Service[] fns, long size) {
        long a = fw.machine().fwAlloc(Math.max(size, 8L * names.length));
        for (int i = 0; i < names.length; i++) {
            fw.mem().putU64(a + 8L * i, fw.machine().slot(prefix + "." + names[i], fns[i]));
        }
        return a;
    }
}
