package org.kexecmeasured.uefi;

import java.util.List;

/**
 * What the payload handed to the Linux kernel at the cut-over (StartImage of a Linux EFI-stub image).
 * Immutable: arrays are copied in and out.
 *
 * @param kernel      the kernel image bytes as given to LoadImage
 * @param cmdline     the kernel's LoadOptions as text (UCS-2 decoded, trailing NUL removed)
 * @param initrd      the initrd served by the LINUX_EFI_INITRD_MEDIA LoadFile2 (empty if none)
 * @param devicePath  the kernel image's device path as text
 * @param console     what the payload wrote to ConOut
 * @param trace       the service calls made by guest code, in order
 */
public record HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                      List<TraceEntry> trace) {

    public HandOff {
        kernel = kernel.clone();
        initrd = initrd.clone();
        trace = List.copyOf(trace);
    }

    @Override
    public byte[] kernel() {
        return kernel.clone();
    }

    @Override
    public byte[] initrd() {
        return initrd.clone();
    }
}
