package org.kexecmeasured.uefi;

import java.util.List;

/**
 * What the payload handed to the Linux kernel at the cut-over: StartImage of a Linux EFI-stub image (or a jump
 * into one), or the jump into the kernel through the x86 boot protocol after the payload's own
 * ExitBootServices ({@link Entry#BOOT_PROTOCOL}: GRUB's legacy linux loader). Immutable: arrays are copied in
 * and out.
 *
 * @param kernel      the kernel image bytes as given to LoadImage
 * @param cmdline     the kernel's LoadOptions as text (UCS-2 decoded, trailing NUL removed)
 * @param initrd      the initrd served by the LINUX_EFI_INITRD_MEDIA LoadFile2 (empty if none)
 * @param devicePath  the kernel image's device path as text
 * @param console     what the payload wrote to ConOut
 * @param trace       the service calls made by guest code, in order
 * @param loadOptions the kernel's LoadOptions exactly as LoadOptionsSize bytes (what the Linux stub hashes into PCR 9);
 *                    empty for {@link Entry#BOOT_PROTOCOL}
 * @param entry       how the kernel is entered, which says whether its EFI stub runs (and measures)
 */
public record HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                      List<TraceEntry> trace, byte[] loadOptions, Entry entry) {

    /** How the payload enters the kernel. */
    public enum Entry {
        /**
         * Through the kernel's EFI stub (StartImage, or a call of its PE entry point) before ExitBootServices: the
         * stub would measure LoadOptions and the initrd into PCR 9.
         */
        EFI_STUB,
        /**
         * Through the x86 boot protocol (boot_params; the 32-bit {@code startup_32} or 64-bit {@code startup_64}
         * entry) after the payload's own ExitBootServices: the EFI stub never runs and measures nothing; cmdline
         * and initrd come from boot_params.
         */
        BOOT_PROTOCOL,
        /**
         * Through the kernel's EFI handover entry ({@code handover_offset + 0x200}, boot_params in RDX) before
         * ExitBootServices, as GRUB's linuxefi loader does with Secure Boot on: the EFI stub runs {@code efi_main}
         * with cmdline and initrd from boot_params. It measures neither: LoadOptions are measured only on the PE
         * entry path ({@code efi_convert_cmdline}), the initrd only when it comes through LoadFile2 (none here).
         */
        EFI_HANDOVER
    }

    public HandOff {
        java.util.Objects.requireNonNull(entry, "entry");
        kernel = kernel.clone();
        initrd = initrd.clone();
        trace = List.copyOf(trace);
        loadOptions = loadOptions.clone();
    }

    /** A hand-off through the kernel's EFI stub. */
    public HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                   List<TraceEntry> trace, byte[] loadOptions) {
        this(kernel, cmdline, initrd, devicePath, console, trace, loadOptions, Entry.EFI_STUB);
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
