package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.EfiStatus;
import org.kexecmeasured.uefi.Firmware;
import org.kexecmeasured.uefi.Service;

/** EFI_SIMPLE_TEXT_INPUT_PROTOCOL with no keys: ReadKeyStroke is always NOT_READY, WaitForKey never fires. */
public final class SimpleTextInputProtocol {

    public static final Guid GUID = Guid.parse("387477c1-69c7-11d2-8e39-00a0c969723b");
    private static final String[] NAMES = {"Reset", "ReadKeyStroke"};

    private final long address;

    public SimpleTextInputProtocol(Firmware fw, long handle) {
        Service[] fns = {c -> EfiStatus.SUCCESS, c -> EfiStatus.NOT_READY};
        address = ProtocolTable.build(fw, "ConIn", NAMES, fns, 24);
        fw.mem().putU64(address + 16, fw.newEvent());
        fw.protocols().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }
}
