/**
 * UEFI protocols, one class per protocol with its function table beside its implementation: console
 * (SimpleTextInput, SimpleTextInputEx, SimpleTextOutput), EFI_TCG2_PROTOCOL with its event-log area, EFI_RNG,
 * the Linux initrd LoadFile2, SimpleFileSystem/File over a host directory, and the data-only LoadedImage.
 *
 * <p>A protocol is built from the narrow views of {@code uefi.spi} it needs (a
 * {@link org.kexecmeasured.uefi.spi.ProtocolContext} and, e.g., the console or the measurer), installs itself
 * in the handle database, and never sees the firmware core: this package depends on {@code uefi.spi} only.
 * {@code uefi.Platform} decides which protocols a run offers.
 */
package org.kexecmeasured.uefi.protocol;
