package org.kexecmeasured.uefi;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What the payload handed to the Linux kernel at the cut-over: StartImage of a Linux EFI-stub image (or a jump
 * into one), or the jump into the kernel through the x86 boot protocol after the payload's own
 * ExitBootServices ({@link Entry#BOOT_PROTOCOL}: GRUB's legacy linux loader). Immutable: arrays are copied in
 * and out, except that the emulator hands over bytes it made for this hand-off alone or bytes nobody changes (the
 * payload's sections) without copying them ({@link #adopt}: the initrd may be 100 MiB and more), and
 * {@link #kernelView()} and {@link #initrdView()} give read-only views.
 *
 * <p>A class, not a record, only for that: a record's canonical constructor would copy every array.
 * Accessors and the public constructors are those the record had; equality is by content.
 */
public final class HandOff {
    /** Read-only; a view of bytes nobody changes (the hand-off's own copy, or the payload's section it equals). */
    private final java.nio.ByteBuffer kernel;
    private final String cmdline;
    /** Read-only; a view of bytes nobody changes (the hand-off's own copy, or the payload's section it equals). */
    private final java.nio.ByteBuffer initrd;
    private final String devicePath;
    private final String console;
    private final List<TraceEntry> trace;
    private final byte[] loadOptions;
    private final Entry entry;

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

    /**
     * @param kernel      the kernel image bytes as given to LoadImage
     * @param cmdline     the kernel's LoadOptions as text (UCS-2 decoded, trailing NUL removed)
     * @param initrd      the initrd served by the LINUX_EFI_INITRD_MEDIA LoadFile2 (empty if none)
     * @param devicePath  the kernel image's device path as text
     * @param console     what the payload wrote to ConOut
     * @param trace       the service calls made by guest code, in order
     * @param loadOptions the kernel's LoadOptions exactly as LoadOptionsSize bytes (what the Linux stub hashes into
     *                    PCR 9); empty for {@link Entry#BOOT_PROTOCOL}
     * @param entry       how the kernel is entered, which says whether its EFI stub runs (and measures)
     */
    public HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                   List<TraceEntry> trace, byte[] loadOptions, Entry entry) {
        this(java.nio.ByteBuffer.wrap(kernel.clone()), cmdline, java.nio.ByteBuffer.wrap(initrd.clone()), devicePath, console, trace, loadOptions.clone(),
                entry, true);
    }

    /** A hand-off through the kernel's EFI stub. */
    public HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                   List<TraceEntry> trace, byte[] loadOptions) {
        this(kernel, cmdline, initrd, devicePath, console, trace, loadOptions, Entry.EFI_STUB);
    }

    /** LoadOptions = {@code cmdline} as UCS-2 with its NUL (how the emulator sets them), or none when empty. */
    public HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath, String console,
                   List<TraceEntry> trace) {
        this(kernel, cmdline, initrd, devicePath, console, trace, defaultLoadOptions(cmdline));
    }

    /** Takes the arrays as they are (the public constructors pass copies, {@link #adopt} the emulator's own). */
    private HandOff(java.nio.ByteBuffer kernel, String cmdline, java.nio.ByteBuffer initrd, String devicePath, String console,
                    List<TraceEntry> trace, byte[] loadOptions, Entry entry, boolean owned) {
        this.kernel = Objects.requireNonNull(kernel, "kernel").slice().asReadOnlyBuffer();
        this.cmdline = cmdline;
        this.initrd = initrd.slice().asReadOnlyBuffer();
        this.devicePath = devicePath;
        this.console = console;
        this.trace = List.copyOf(trace);
        this.loadOptions = Objects.requireNonNull(loadOptions, "loadOptions");
        this.entry = Objects.requireNonNull(entry, "entry");
    }

    /**
     * A hand-off through the EFI stub that takes {@code kernel} and {@code initrd} (their remaining bytes) as they
     * are, without copying them: the caller made them for this hand-off, or they are bytes nobody changes (the
     * payload's own {@code .linux} and {@code .initrd} sections: the kernel a stub loaded from its untouched
     * section, the initrd systemd-stub's LoadFile2 served unchanged).
     */
    static HandOff adopt(java.nio.ByteBuffer kernel, String cmdline, java.nio.ByteBuffer initrd, String devicePath, String console,
                         List<TraceEntry> trace, byte[] loadOptions) {
        return adopt(kernel, cmdline, initrd, devicePath, console, trace, loadOptions, Entry.EFI_STUB);
    }

    /** As {@link #adopt(java.nio.ByteBuffer, String, java.nio.ByteBuffer, String, String, List, byte[])} entered as {@code entry} says. */
    static HandOff adopt(java.nio.ByteBuffer kernel, String cmdline, java.nio.ByteBuffer initrd, String devicePath, String console,
                         List<TraceEntry> trace, byte[] loadOptions, Entry entry) {
        return new HandOff(kernel, cmdline, initrd, devicePath, console, trace, loadOptions.clone(), entry, true);
    }

    static byte[] defaultLoadOptions(String cmdline) {
        return cmdline.isEmpty() ? new byte[0] : (cmdline + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_16LE);
    }

    public byte[] kernel() {
        byte[] b = new byte[kernel.remaining()];
        kernel.get(0, b);
        return b;
    }

    /** Bytes of the kernel image, without copying it. */
    public int kernelSize() {
        return kernel.remaining();
    }

    /** The kernel, read-only and not copied: what hashing and the plan's image list use instead of {@link #kernel()}. */
    public java.nio.ByteBuffer kernelView() {
        return kernel.duplicate();
    }

    public String cmdline() {
        return cmdline;
    }

    public byte[] initrd() {
        byte[] b = new byte[initrd.remaining()];
        initrd.get(0, b);
        return b;
    }

    /** Bytes of the initrd, without copying it (it may be 100 MiB and more). */
    public int initrdSize() {
        return initrd.remaining();
    }

    /** The initrd, read-only and not copied: what hashing and size checks use instead of {@link #initrd()}. */
    public java.nio.ByteBuffer initrdView() {
        return initrd.duplicate();
    }

    public String devicePath() {
        return devicePath;
    }

    public String console() {
        return console;
    }

    public List<TraceEntry> trace() {
        return trace;
    }

    public byte[] loadOptions() {
        return loadOptions.clone();
    }

    public Entry entry() {
        return entry;
    }

    /** By content, arrays too. */
    @Override
    public boolean equals(Object o) {
        return o instanceof HandOff h && kernel.equals(h.kernel) && Objects.equals(cmdline, h.cmdline)
                && initrd.equals(h.initrd) && Objects.equals(devicePath, h.devicePath)
                && Objects.equals(console, h.console) && trace.equals(h.trace)
                && Arrays.equals(loadOptions, h.loadOptions) && entry == h.entry;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kernel.remaining(), cmdline, initrd.remaining(), devicePath, console, trace.size(),
                Arrays.hashCode(loadOptions), entry); // lengths, not contents: the arrays may be 100 MiB
    }

    @Override
    public String toString() {
        return "HandOff[kernel=" + kernel.remaining() + " bytes, cmdline=" + cmdline + ", initrd=" + initrd.remaining()
                + " bytes, devicePath=" + devicePath + ", entry=" + entry + "]";
    }
}
