package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.EfiStatus;
import org.kexecmeasured.uefi.Firmware;
import org.kexecmeasured.uefi.Service;

/**
 * EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL with no keys: ReadKeyStrokeEx is NOT_READY, WaitForKeyEx never fires,
 * key notifications are accepted and never called.
 */
public final class SimpleTextInputExProtocol {

    public static final Guid GUID = Guid.parse("dd9e7534-7762-4698-8c14-f58517a625aa");
    private static final String[] NAMES = {"Reset", "ReadKeyStrokeEx"};

    private final long address;

    public SimpleTextInputExProtocol(Firmware fw, long handle) {
        Service[] fns = {c -> EfiStatus.SUCCESS, c -> c.arg(1) == 0 ? EfiStatus.INVALID_PARAMETER : EfiStatus.NOT_READY};
        address = ProtocolTable.build(fw, "ConInEx", NAMES, fns, 48);
        fw.mem().putU64(address + 16, fw.newEvent());
        fw.mem().putU64(address + 24, fw.machine().slot("ConInEx.SetState",
                c -> c.arg(1) == 0 ? EfiStatus.INVALID_PARAMETER : EfiStatus.SUCCESS));
        fw.mem().putU64(address + 32, fw.machine().slot("ConInEx.RegisterKeyNotify", c -> {
            if (c.arg(1) == 0 || c.arg(2) == 0 || c.arg(3) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            fw.mem().putU64(c.arg(3), fw.machine().fwAlloc(16));
            return EfiStatus.SUCCESS;
        }));
        fw.mem().putU64(address + 40, fw.machine().slot("ConInEx.UnregisterKeyNotify",
                c -> c.arg(1) == 0 ? EfiStatus.INVALID_PARAMETER : EfiStatus.SUCCESS));
        fw.protocols().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }
}
