/**
 * UEFI data formats shared by the emulator, the event log and the disk code: EFI GUIDs in their
 * mixed-endian byte order ({@link org.kexecmeasured.efi.Guid}) and device paths — parse, build and the
 * UEFI text form ({@link org.kexecmeasured.efi.DevicePath}); {@code disk} reads GPT and FAT.
 */
package org.kexecmeasured.efi;
