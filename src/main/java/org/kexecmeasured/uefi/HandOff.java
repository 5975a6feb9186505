package org.kexecmeasured.uefi;

/**
 * What the payload handed to the Linux kernel at the cut-over (StartImage of a Linux EFI-stub image).
 *
 * @param kernel      the kernel image bytes as given to LoadImage
 * @param cmdline     the kernel's LoadOptions as text (UCS-2 decoded, trailing NUL removed)
 * @param initrd      the initrd served by the LINUX_EFI_INITRD_MEDIA LoadFile2 (empty if none)
 * @param devicePath  the kernel image's device path as text
 */
public record HandOff(byte[] kernel, String cmdline, byte[] initrd, String devicePath) {
}
