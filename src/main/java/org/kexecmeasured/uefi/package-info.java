/**
 * A user-space UEFI (x86_64) on Unicorn 2.0.1: runs a payload's pre-ExitBootServices code with boot and
 * runtime services implemented in Java.
 *
 * <ul>
 *   <li>{@link org.kexecmeasured.uefi.Machine}: long mode (2 MiB identity pages 0-4 GiB, GDT CS 0x38/DS 0x30),
 *   RAM with page 0 unmapped, a 16 MiB firmware area at the top, and the trap page: every firmware function
 *   pointer is an 8-byte {@code ret} slot, reached through one code hook limited to that page. Guest code
 *   elsewhere runs without host callbacks; the time budget is {@code uc_emu_start}'s timeout.</li>
 *   <li>{@link org.kexecmeasured.uefi.Firmware}: system table, boot services (memory, pool, events, misc),
 *   with {@link org.kexecmeasured.uefi.MemoryMap}, {@link org.kexecmeasured.uefi.ProtocolDatabase},
 *   {@link org.kexecmeasured.uefi.ImageServices} and {@link org.kexecmeasured.uefi.RuntimeServices}; one
 *   class per protocol in {@code uefi.protocol}.</li>
 *   <li>{@link org.kexecmeasured.uefi.Emulator}: runs a payload to the cut-over (StartImage of a Linux
 *   EFI-stub kernel → {@link org.kexecmeasured.uefi.HandOff}, the initrd obtained by calling the payload's own
 *   LoadFile2) or, in full emulation, to the first jump after ExitBootServices
 *   ({@link org.kexecmeasured.uefi.PostEbsState}).</li>
 * </ul>
 *
 * <p>Not modelled: event notification functions (never called), SetVirtualAddressMap, BlockIo/DiskIo,
 * GOP, LoadImage through LoadFile/LoadFile2 device paths, paging (Unicorn 2.0.1 runs VA = PA).
 */
package org.kexecmeasured.uefi;
