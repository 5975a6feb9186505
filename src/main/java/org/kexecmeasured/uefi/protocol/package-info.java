/**
 * UEFI protocols, one class per protocol with its function table beside its implementation: console
 * (SimpleTextInput, SimpleTextInputEx, SimpleTextOutput), EFI_TCG2_PROTOCOL with its event-log area, EFI_RNG,
 * the Linux initrd LoadFile2, SimpleFileSystem/File over a read-only {@link org.kexecmeasured.uefi.protocol.FileTree}
 * (a host directory, or files held in memory: the synthesized ESP serves the payload from its own bytes), the
 * data-only LoadedImage, and a read-only disk ({@link org.kexecmeasured.uefi.protocol.DiskDevice}: disk and GPT
 * partition handles, each with
 * {@link org.kexecmeasured.uefi.protocol.BlockIoProtocol} and {@link org.kexecmeasured.uefi.protocol.DiskIoProtocol}).
 *
 * <p>A protocol is built from the narrow views of {@code uefi.spi} it needs (a
 * {@link org.kexecmeasured.uefi.spi.ProtocolContext} and, e.g., the console or the measurer), installs itself
 * in the handle database, and never sees the firmware core: this package depends on {@code uefi.spi} only.
 * {@code uefi.Platform} decides which protocols a run offers.
 */
package org.kexecmeasured.uefi.protocol;
