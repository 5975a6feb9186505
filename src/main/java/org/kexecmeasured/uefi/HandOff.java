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
 * @param loadOptions the kernel's LoadOptions exactly as LoadOptionsSize bytes (what the Linux stub hashes into PCR 9)
 */
public record HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                      List<TraceEntry> trace, byte[] loadOptions) {

    public HandOff {
        kernel = kernel.clone();
        initrd = initrd.clone();
        trace = List.copyOf(trace);
        loadOptions = loadOptions.clone();
    }

    /** LoadOptions = {@code cmdline} as UCS-2 with its NUL (how the emulator sets them), or none when empty. */
    public HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                   List<TraceEntry> trace) {
        this(kernel, cmdline, initrd, devicePath, console, trace, cmdline.isEmpty() ? new byte[0]
                : (cmdline + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_16LE));
    }

    @Override
    public byte[] kernel() {
        return kernel.clone();
    }

    @Override
    public byte[] initrd() {
        return initrd.clone();
    }

    /** Bytes of the initrd, without copying it (it may be 100 MiB and more). */
    public int initrdSize() {
        return initrd.length;
    }

    /** The initrd, read-only and not copied: what hashing and size checks use instead of {@link #initrd()}. */
    public java.nio.ByteBuffer initrdView() {
        return java.nio.ByteBuffer.wrap(initrd).asReadOnlyBuffer();
    }

    @Override
    public byte[] loadOptions() {
        return loadOptions.clone();
    }
}
