package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.RandomSource;
import org.kexecmeasured.uefi.spi.Service;

/** EFI_RNG_PROTOCOL offering EFI_RNG_ALGORITHM_RAW from a {@link RandomSource}. */
public final class RngProtocol {

    public static final Guid GUID = Guid.parse("3152bca5-eade-433d-862e-c01cdc291f44");
    public static final Guid ALGORITHM_RAW = Guid.parse("e43176d7-b6e8-4827-b784-7ffdc4b68561");
    public static final long MAX_REQUEST = 1 << 20;

    private final long address;

    /** Builds the protocol and installs it on a new handle. */
    public RngProtocol(ProtocolContext ctx, RandomSource random) {
        GuestMemory m = ctx.mem();
        Service getInfo = c -> { // GetInfo(This, *RNGAlgorithmListSize, RNGAlgorithmList)
            if (c.arg(1) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long have = m.u64(c.arg(1));
            m.putU64(c.arg(1), 16);
            if (have < 16) {
                return EfiStatus.BUFFER_TOO_SMALL;
            }
            if (c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.putGuid(c.arg(2), ALGORITHM_RAW);
            return EfiStatus.SUCCESS;
        };
        Service getRng = c -> { // GetRNG(This, RNGAlgorithm*, RNGValueLength, RNGValue*)
            long len = c.arg(2);
            if (len == 0 || c.arg(3) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            if (c.arg(1) != 0 && !m.guid(c.arg(1)).equals(ALGORITHM_RAW)) {
                return EfiStatus.UNSUPPORTED;
            }
            if (Long.compareUnsigned(len, MAX_REQUEST) > 0) { // UINTN: unsigned
                return EfiStatus.INVALID_PARAMETER;
            }
            byte[] b = new byte[(int) len];
            random.fill(b);
            m.write(c.arg(3), b);
            return EfiStatus.SUCCESS;
        };
        address = ProtocolTable.build(ctx, "Rng", new String[]{"GetInfo", "GetRNG"}, new Service[]{getInfo, getRng}, 16);
        ctx.handles().install(0, GUID, address);
    }

    public long address() {
        return address;
    }
}
