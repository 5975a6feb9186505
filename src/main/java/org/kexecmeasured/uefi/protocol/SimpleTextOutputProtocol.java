package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.Console;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/** EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL: an 80x25 text console whose output is captured. */
public final class SimpleTextOutputProtocol {

    public static final Guid GUID = Guid.parse("387477c2-69c7-11d2-8e39-00a0c969723b");
    private static final String[] NAMES = {"Reset", "OutputString", "TestString", "QueryMode", "SetMode",
        "SetAttribute", "ClearScreen", "SetCursorPosition", "EnableCursor"};

    private final long address;

    /** Builds the protocol writing to {@code console} and installs it on {@code handle}. */
    public SimpleTextOutputProtocol(ProtocolContext ctx, Console console, long handle) {
        GuestMemory m = ctx.mem();
        long mode = ctx.allocator().firmwareAlloc(24);
        m.putU32(mode, 1); // MaxMode
        m.putU32(mode + 8, 0x07); // Attribute: light grey on black
        m.putU8(mode + 20, 1); // CursorVisible
        Service[] fns = {
            c -> EfiStatus.SUCCESS,
            c -> {
                if (c.arg(1) == 0) {
                    return EfiStatus.INVALID_PARAMETER;
                }
                console.write(m.utf16z(c.arg(1), 1 << 20));
                return EfiStatus.SUCCESS;
            },
            c -> EfiStatus.SUCCESS,
            c -> {
                if (c.arg(1) != 0) {
                    return EfiStatus.UNSUPPORTED;
                }
                if (c.arg(2) != 0) m.putU64(c.arg(2), 80);
                if (c.arg(3) != 0) m.putU64(c.arg(3), 25);
                return EfiStatus.SUCCESS;
            },
            c -> c.arg(1) == 0 ? EfiStatus.SUCCESS : EfiStatus.UNSUPPORTED,
            c -> {
                m.putU32(mode + 8, c.arg(1));
                return EfiStatus.SUCCESS;
            },
            c -> EfiStatus.SUCCESS,
            c -> {
                m.putU32(mode + 12, c.arg(1));
                m.putU32(mode + 16, c.arg(2));
                return EfiStatus.SUCCESS;
            },
            c -> {
                m.putU8(mode + 20, (int) (c.arg(1) & 1));
                return EfiStatus.SUCCESS;
            },
        };
        address = ProtocolTable.build(ctx, "ConOut", NAMES, fns, 8 * 10);
        m.putU64(address + 8 * 9, mode);
        ctx.handles().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }
}
