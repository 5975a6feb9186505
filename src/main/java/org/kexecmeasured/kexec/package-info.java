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
 * <h2>Resume mode (coming)</h2>
 * After full emulation to ExitBootServices, a segment loader on {@code kexec_load} with a small
 * purgatory will sit beside the file loader, sharing {@link org.kexecmeasured.kexec.KexecSyscalls},
 * {@link org.kexecmeasured.kexec.KernelState} and {@link org.kexecmeasured.kexec.KexecErrors}
 * ({@code kexec_load} is refused under lockdown).
 */
package org.kexecmeasured.kexec;
