/**
 * What a payload file is before anything runs it: {@link org.kexecmeasured.payload.Inspector} reads a PE
 * (a UKI, systemd-boot, shim, GRUB, a Linux EFI stub), a bzImage, an arm64 Image or a zboot image from its
 * first bytes and reports its parts, signatures and the PCR 11 a UKI will produce. {@link
 * org.kexecmeasured.payload.PayloadFile} holds the payload a boot runs: mapped under a read lease (so the bytes
 * checked are the bytes run and loaded), else a private copy. The sub-packages hold
 * the formats: {@code pe} (PE/COFF, Authenticode digest), {@code sig} (Authenticode signatures as the
 * firmware checks them), {@code uki}, {@code linux} and {@code hash} (one-pass multi-bank hashing).
 */
package org.kexecmeasured.payload;
