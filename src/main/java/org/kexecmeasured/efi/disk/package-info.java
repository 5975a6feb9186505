/**
 * Disks as UEFI sees them, read-only and pure (no emulator): {@link org.kexecmeasured.efi.disk.BlockDevice}
 * (a disk-image file or a real block device, opened read-only, read in bounded positional steps) and
 * {@link org.kexecmeasured.efi.disk.Gpt} (UEFI 2.10 §5.3: the protective MBR, the primary and backup GPT
 * headers with their CRC32s, the partition entry array), checked field by field before anything is allocated
 * so that a hostile image ends in a {@link org.kexecmeasured.util.BadInputException} naming the field and LBA.
 * The emulator's BlockIo/DiskIo protocols and partition handles are built on these.
 */
package org.kexecmeasured.efi.disk;
