package org.kexecmeasured.uefi;

import org.kexecmeasured.uefi.spi.EfiStatus;

/** One service call made by guest code: name, the four register arguments, the result and the caller. */
public record TraceEntry(int index, String service, long[] args, long status, long returnAddress) {
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append('#').append(index).append(' ').append(service).append('(');
        for (int i = 0; i < args.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append("0x").append(Long.toHexString(args[i]));
        }
        sb.append(") = ").append(EfiStatus.name(status)).append(" from 0x").append(Long.toHexString(returnAddress));
        return sb.toString();
    }
}
