package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.Events;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/** EFI_SIMPLE_TEXT_INPUT_PROTOCOL with no keys: ReadKeyStroke is always NOT_READY, WaitForKey never fires. */
public final class SimpleTextInputProtocol {

    public static final Guid GUID = Guid.parse("387477c1-69c7-11d2-8e39-00a0c969723b");
    private static final String[] NAMES = {"Reset", "ReadKeyStroke"};

    private final long address;

    /** Builds the protocol and installs it on {@code handle}. */
    public SimpleTextInputProtocol(ProtocolContext ctx, Events events, long handle) {
        Service[] fns = {c -> EfiStatus.SUCCESS, c -> EfiStatus.NOT_READY};
        address = ProtocolTable.build(ctx, "ConIn", NAMES, fns, 24);
        ctx.mem().putU64(address + 16, events.newEvent()); // WaitForKey
        ctx.handles().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }
}
