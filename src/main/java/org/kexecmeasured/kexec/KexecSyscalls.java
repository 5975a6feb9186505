package org.kexecmeasured.kexec;

/**
 * The narrow native seam of the hand-over: the Linux system calls it makes, nothing else. The real
 * implementation is {@link LinuxSyscalls} (JNA, no kexec-tools at run time). Every method returns
 * normally or throws {@link SyscallException} carrying the errno; turning an errno into a message is
 * {@link KexecErrors}' job, not this interface's.
 */
public interface KexecSyscalls {

    /** {@code memfd_create(name, MFD_CLOEXEC)} filled with {@code data}: an fd the kernel can read a file from. */
    int memfdWith(String name, byte[] data);

    /** {@code kexec_file_load(kernelFd, initrdFd, cmdline, flags)}; {@code cmdline} null = none. */
    void kexecFileLoad(int kernelFd, int initrdFd, String cmdline, long flags);

    /**
     * {@code kexec_load(entry, nr_segments, segments, flags)}: raw segments and the physical entry point the
     * kernel's relocate code jumps to (x86_64: 64-bit mode, identity-mapped, interrupts off). Refused under
     * lockdown (LOCKDOWN_KEXEC) with EPERM.
     */
    void kexecLoad(long entry, java.util.List<KexecSegment> segments, long flags);

    void close(int fd);

    /** {@code sync()}: file systems to disk before the old kernel stops. */
    void sync();

    /** {@code reboot(LINUX_REBOOT_CMD_KEXEC)}: returns only on failure (then throws). */
    void rebootKexec();

    /** A failed system call. */
    final class SyscallException extends RuntimeException {
        private final String call;
        private final int errno;

        public SyscallException(String call, int errno) {
            super(call + " failed: " + KexecErrors.errnoName(errno));
            this.call = call;
            this.errno = errno;
        }

        public String call() {
            return call;
        }

        public int errno() {
            return errno;
        }
    }
}
