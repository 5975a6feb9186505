package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.Events;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/**
 * EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL with no keys: ReadKeyStrokeEx is NOT_READY, WaitForKeyEx never fires,
 * key notifications are accepted and never called.
 */
public final class SimpleTextInputExProtocol {

    public static final Guid GUID = Guid.parse("dd9e7534-7762-4698-8c14-f58517a625aa");
    private static final String[] NAMES = {"Reset", "ReadKeyStrokeEx"};

    private final long address;

    /** Builds the protocol and installs it on {@code handle}. */
    public SimpleTextInputExProtocol(ProtocolContext ctx, Events events, long handle) {
        GuestMemory m = ctx.mem();
        Service[] fns = {c -> EfiStatus.SUCCESS, c -> c.arg(1) == 0 ? EfiStatus.INVALID_PARAMETER : EfiStatus.NOT_READY};
        address = ProtocolTable.build(ctx, "ConInEx", NAMES, fns, 48);
        m.putU64(address + 16, events.newEvent()); // WaitForKeyEx
        m.putU64(address + 24, ctx.slots().slot("ConInEx.SetState",
                c -> c.arg(1) == 0 ? EfiStatus.INVALID_PARAMETER : EfiStatus.SUCCESS));
        m.putU64(address + 32, ctx.slots().slot("ConInEx.RegisterKeyNotify", c -> {
            if (c.arg(1) == 0 || c.arg(2) == 0 || c.arg(3) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            m.putU64(c.arg(3), ctx.allocator().firmwareAlloc(16)); // a NotifyHandle nothing ever signals
            return EfiStatus.SUCCESS;
        }));
        m.putU64(address + 40, ctx.slots().slot("ConInEx.UnregisterKeyNotify",
                c -> c.arg(1) == 0 ? EfiStatus.INVALID_PARAMETER : EfiStatus.SUCCESS));
        ctx.handles().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }
}
