/**
 * A user-space UEFI (x86_64) on Unicorn 2.0.1: runs a payload's pre-ExitBootServices code with boot and
 * runtime services implemented in Java.
 *
 * <p>Packages, and which way the arrows go (no cycles):
 * <pre>
 *   uefi  ──────────►  uefi.protocol  ──►  uefi.spi
 *     │                                       ▲
 *     └──────────────►  uefi.unicorn  ────────┘
 * </pre>
 * <ul>
 *   <li>{@code uefi} (this package): what callers use ({@link org.kexecmeasured.uefi.Emulator},
 *   {@link org.kexecmeasured.uefi.EmulatorOptions}, {@link org.kexecmeasured.uefi.EmulationResult},
 *   {@link org.kexecmeasured.uefi.HandOff}, {@link org.kexecmeasured.uefi.Measurer}, …), the firmware core,
 *   and the composition root {@link org.kexecmeasured.uefi.Platform}, the one class that picks the CPU engine
 *   and installs the protocols.</li>
 *   <li>{@code uefi.spi}: the contracts the core offers its plug-ins: guest memory, the call ABI, EFI_STATUS
 *   and memory types, the {@code Cpu}, and the narrow views protocols get (allocator, trap slots, handle
 *   database, console, events, configuration tables, the TCG2 measurer, randomness).</li>
 *   <li>{@code uefi.protocol}: one class per protocol, its function table beside its implementation; sees only
 *   {@code uefi.spi}.</li>
 *   <li>{@code uefi.unicorn}: the {@code Cpu} on libunicorn through JNA; sees only {@code uefi.spi}.</li>
 * </ul>
 *
 * <p>The core, by UEFI 2.10 section:
 * <ul>
 *   <li>{@link org.kexecmeasured.uefi.Machine}: long mode (2 MiB identity pages 0-4 GiB, GDT CS 0x38/DS 0x30),
 *   RAM with page 0 unmapped, a 16 MiB firmware area at the top, and the trap page: every firmware function
 *   pointer is an 8-byte {@code ret} slot, reached through one code hook limited to that page. The trap page is
 *   read-execute: neither guest code nor a service writing for the guest (SetMem, CopyMem, an output pointer:
 *   {@code GuestMemory.isGuestWritable}) can patch the slots; such a write ends the run naming the service. Guest
 *   code elsewhere runs without host callbacks; the time budget is {@code uc_emu_start}'s timeout.</li>
 *   <li>{@link org.kexecmeasured.uefi.Firmware}: builds the core and maps every slot of EFI_BOOT_SERVICES
 *   ({@link org.kexecmeasured.uefi.BootService}, spec order) to its implementation or UNSUPPORTED in one
 *   exhaustive switch; runs guest code and turns how a run ended (stop, halt, fault, exception, time budget)
 *   into a report.</li>
 *   <li>§4.3 {@link org.kexecmeasured.uefi.SystemTable}; §7.1 {@link org.kexecmeasured.uefi.EventServices};
 *   §7.2 {@link org.kexecmeasured.uefi.MemoryServices} over {@link org.kexecmeasured.uefi.MemoryMap};
 *   §7.3 {@link org.kexecmeasured.uefi.ProtocolDatabase}; §7.4 {@link org.kexecmeasured.uefi.ImageServices}
 *   (PE loader, LoadImage … ExitBootServices); §7.5 {@link org.kexecmeasured.uefi.MiscServices};
 *   §8 {@link org.kexecmeasured.uefi.RuntimeServices} ({@link org.kexecmeasured.uefi.RuntimeService}, spec
 *   order) on a volatile {@link org.kexecmeasured.uefi.VariableStore}.</li>
 *   <li>{@link org.kexecmeasured.uefi.Emulator}: runs a payload, started from a device (the ESP given, or
 *   {@link org.kexecmeasured.uefi.SynthesizedEsp} holding it), to the cut-over → {@link org.kexecmeasured.uefi.HandOff}
 *   (the initrd obtained by calling the payload's own LoadFile2): StartImage of a Linux EFI-stub kernel, or a
 *   jump into the entry of a kernel the payload copied into pages itself, as systemd-stub 258+ does (accepted
 *   only when the whole image there is the kernel's, section by section)
 *   ({@link org.kexecmeasured.uefi.KernelEntryWatch}); in full emulation, to the first jump after
 *   ExitBootServices ({@link org.kexecmeasured.uefi.PostEbsState}); in resume capture
 *   ({@link org.kexecmeasured.uefi.EmulatorOptions#stopAtExitBootServices()}), to the instruction ExitBootServices
 *   returns to, with every non-free range captured (the kexec package resumes the payload there on the real
 *   machine) — for a Linux kernel that supports EFI kexec (XLF_EFI_KEXEC) to its stub's jump into the kernel instead,
 *   because the stub still fills boot_params after ExitBootServices returns.</li>
 *   <li>{@link org.kexecmeasured.uefi.IdleWatch}: a payload that only waits (Stall, WaitForEvent, key polling)
 *   for 10 virtual minutes or 200,000 calls in a row is stuck (systemd's freeze() after an assertion): the run
 *   ends at once with its console's last lines.</li>
 * </ul>
 *
 * <p>Errors: a run that fails throws {@link org.kexecmeasured.uefi.EmulationException} with RIP (image and
 * offset), the faulting address and the last service calls; a service that cannot go on throws it (core) or
 * {@link org.kexecmeasured.uefi.spi.ServiceException} (plug-ins), and the trap dispatcher ends the run with
 * "{@code <service>: <message>}". Guest lengths are unsigned UINTN.
 *
 * <p>Devices: a GPT disk (read-only; {@code --disk}) with BlockIo/DiskIo on the disk and partition handles, the
 * ESP served as a SimpleFileSystem (a directory, or the disk's FAT), the console, TCG2, RNG. I/O ports have no
 * device behind them (reads are all-ones, writes vanish).
 *
 * <p>Not modelled: event notification functions (never called), SetVirtualAddressMap, GOP (except a frame buffer in
 * RAM in resume capture, for payloads that require one), LoadImage through LoadFile/LoadFile2 device paths, paging
 * (Unicorn 2.0.1 runs VA = PA), signature checks of the first image (with {@code EmulatorOptions.secureBoot} the
 * payload sees SecureBoot = 1; shim verifies what it loads itself).
 *
 * <p>GRUB's two ways into the kernel end in a {@link org.kexecmeasured.uefi.HandOff} ({@code BootProtocolWatch}):
 * with Secure Boot off, Debian's GRUB 2.06 uses its legacy x86 linux loader, exits boot services itself and jumps to
 * the kernel's boot-protocol entry ({@code HandOff.Entry.BOOT_PROTOCOL}); with Secure Boot on, its linuxefi loader
 * calls the kernel's EFI handover entry before ExitBootServices ({@code HandOff.Entry.EFI_HANDOVER}).
 */
package org.kexecmeasured.uefi;
