/**
 * The hand-over: loading the kernel a measured payload would have started into the running kernel
 * with Linux's kexec system calls (through JNA; kexec-tools is not needed at run time), unloading it,
 * and starting it.
 *
 * <h2>File mode (this package today)</h2>
 * {@link org.kexecmeasured.kexec.KexecFileLoader} calls {@code kexec_file_load(kernel_fd, initrd_fd,
 * cmdline, flags)} with a {@link org.kexecmeasured.kexec.HandOverImage}: the payload's kernel (for a UKI,
 * its signed inner bzImage), the command line the payload computed, and one initrd = the payload's
 * initrd followed by a newc cpio ({@link org.kexecmeasured.kexec.NewcCpio}) with the sidecar under
 * {@code /.extra/kexec-measured/}. The running kernel verifies the image's signature when lockdown or
 * {@code KEXEC_SIG_FORCE} requires it, so file mode works under Secure Boot lockdown. A load changes
 * nothing outside the kernel's kexec slot and can be undone with {@code unload}; it never touches the TPM.
 *
 * <h2>Errors</h2>
 * Every errno becomes a sentence ({@link org.kexecmeasured.kexec.KexecErrors}) and a
 * {@link org.kexecmeasured.kexec.KexecException.Kind}: a rejected signature is a failed check (exit 1),
 * an image the loader does not accept is bad input (2), a refusal for outside reasons (not root,
 * disabled, busy, memory, no crash reservation) is 2 as well — nothing changed — and an errno that
 * means a bug here is internal (70).
 *
 * <h2>Crash kernel: what is measured when</h2>
 * {@code --crash} loads with KEXEC_FILE_ON_CRASH into the {@code crashkernel=} reservation. Loading a
 * crash kernel must have no side effects (kdump), so at load time nothing is extended and no journal
 * is written: the plan runs with the TPM read-only. A panic starts the crash kernel through the
 * kernel's purgatory, where nothing measures either. The crash kernel therefore runs with the crashed
 * system's PCRs; its sidecar carries the log as it stood when the crash kernel was loaded and the
 * manifest says the payload's records were planned, not extended — it never poses as measured.
 *
 * <h2>Resume mode ({@code boot --full-emulation})</h2>
 * The payload — any EFI application, not only a Linux kernel (memtest86+ is the test case) — runs in the emulator
 * until its ExitBootServices returns; the emulator captures the registers there and every range that is not free
 * memory ({@link org.kexecmeasured.uefi.PostEbsState}). The emulated RAM mirrors this machine's usable RAM
 * ({@link org.kexecmeasured.kexec.HostMemory}: System RAM of {@code /sys/firmware/memmap} minus the crash kernel),
 * so {@link org.kexecmeasured.kexec.ResumeImage} can give {@code kexec_load} every captured range as a segment at
 * its own address, plus the {@link org.kexecmeasured.kexec.Purgatory}: GDT, identity map, CR0/CR4 bits, RFLAGS and
 * every general register, then a jump to the captured RIP, so the payload goes on natively on the real machine
 * as if ExitBootServices had just returned to it. {@link org.kexecmeasured.kexec.ResumeLoader} loads it between
 * the decision and the commit, like file mode.
 *
 * <p>Lockdown: {@code kexec_load} is refused under lockdown (LOCKDOWN_KEXEC); the loader checks the lockdown mode
 * before the payload runs and maps an EPERM from the kernel to the same refusal: nothing is extended or loaded.
 *
 * <p>A Linux kernel (a UKI's or a plain bzImage's EFI stub) is captured at the stub's jump into the decompressed
 * kernel instead (the stub fills boot_params after ExitBootServices returns), and {@link
 * org.kexecmeasured.kexec.LinuxHandOver} points its boot_params at the real machine as kexec-tools does for
 * {@code kexec_load}: efi_systab = the real system table, efi_memmap = the real runtime map, e820_table = the firmware
 * memory map, and a SETUP_EFI node whose {@code tables} is a copy of the real configuration table with the
 * LINUX_EFI_TPM_EVENT_LOG entry pointing at the continued log (and the final events table entry at an empty table,
 * so the next kernel appends nothing): the next kernel's {@code binary_bios_measurements} is the continued log. The
 * real firmware's facts come from sysfs and {@code /dev/mem} ({@link org.kexecmeasured.kexec.HostEfi}); the
 * structure layouts ({@link org.kexecmeasured.kexec.LinuxAbi}) are checked against the kernel's headers.
  */
package org.kexecmeasured.kexec;
