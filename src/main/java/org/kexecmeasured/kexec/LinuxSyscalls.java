package org.kexecmeasured.kexec;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * {@link KexecSyscalls} through JNA and libc's {@code syscall(2)}: glibc has no wrapper for
 * {@code kexec_file_load}. Syscall numbers per architecture (x86_64 and arm64, the two the tool
 * emulates); every argument is passed as a 64-bit value so no register keeps stale upper bits.
 */
public final class LinuxSyscalls implements KexecSyscalls {

    /** The syscall numbers of one architecture (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h). */
    record Numbers(long memfdCreate, long kexecFileLoad, long kexecLoad) {
        static Numbers forArch(String osArch) {
            return switch (osArch) {
                case "amd64", "x86_64" -> new Numbers(319, 320, 246);
                case "aarch64", "arm64" -> new Numbers(279, 294, 104);
                default -> null;
            };
        }
    }

    private static final int MFD_CLOEXEC = 0x0001;
    /** LINUX_REBOOT_CMD_KEXEC (include/uapi/linux/reboot.h); glibc's reboot() adds the two magic numbers. */
    private static final int LINUX_REBOOT_CMD_KEXEC = 0x45584543;
    private static final int WRITE_CHUNK = 1 << 20;

    interface LibC extends Library {
        long syscall(long number, Object... args) throws LastErrorException;

        long write(int fd, Pointer buf, long count) throws LastErrorException;

        int close(int fd) throws LastErrorException;

        void sync();

        int reboot(int cmd) throws LastErrorException;
    }

    private final LibC libc;
    private final Numbers numbers;

    private LinuxSyscalls(LibC libc, Numbers numbers) {
        this.libc = libc;
        this.numbers = numbers;
    }

    /** Binds libc; refuses an architecture whose syscall numbers are not known here. */
    public static LinuxSyscalls load() {
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        Numbers n = Numbers.forArch(arch);
        if (n == null) {
            throw new UnsupportedOperationException("kexec on " + arch + " is not supported (x86_64 and arm64 are)");
        }
        return new LinuxSyscalls(Native.load("c", LibC.class), n);
    }

    @Override
    public int memfdWith(String name, byte[] data) {
        int fd;
        try (Memory cname = cString(name)) {
            fd = (int) libc.syscall(numbers.memfdCreate(), cname, (long) MFD_CLOEXEC);
        } catch (LastErrorException e) {
            throw new SyscallException("memfd_create", e.getErrorCode());
        }
        try {
            writeAll(fd, data);
            return fd;
        } catch (RuntimeException e) {
            close(fd);
            throw e;
        }
    }

    private void writeAll(int fd, byte[] data) {
        if (data.length == 0) return;
        try (Memory buf = new Memory(Math.min(WRITE_CHUNK, data.length))) {
            int off = 0;
            while (off < data.length) {
                int n = Math.min((int) buf.size(), data.length - off);
                buf.write(0, data, off, n);
                int done = 0;
                while (done < n) {
                    long w = libc.write(fd, buf.share(done), n - done);
                    if (w <= 0) throw new SyscallException("write to memfd", 5 /* EIO */);
                    done += (int) w;
                }
                off += n;
            }
        } catch (LastErrorException e) {
            throw new SyscallException("write to memfd", e.getErrorCode());
        }
    }

    @Override
    public void kexecFileLoad(int kernelFd, int initrdFd, String cmdline, long flags) {
        Memory c = cmdline == null ? null : cString(cmdline);
        try {
            // cmdline_len counts the terminating NUL (the kernel checks it is there)
            long len = c == null ? 0 : c.size();
            libc.syscall(numbers.kexecFileLoad(), (long) kernelFd, (long) initrdFd, len, c, flags);
        } catch (LastErrorException e) {
            throw new SyscallException("kexec_file_load", e.getErrorCode());
        } finally {
            if (c != null) c.close();
        }
    }

    @Override
    public void kexecLoad(long entry, java.util.List<KexecSegment> segments, long flags) {
        // struct kexec_segment { const void *buf; size_t bufsz; const void *mem; size_t memsz; }: 32 bytes each
        java.util.List<Memory> bufs = new java.util.ArrayList<>();
        Memory table = new Memory(32L * Math.max(1, segments.size()));
        try {
            for (int i = 0; i < segments.size(); i++) {
                KexecSegment s = segments.get(i);
                Memory b = null;
                if (s.buf().length > 0) {
                    b = new Memory(s.buf().length);
                    b.write(0, s.buf(), 0, s.buf().length);
                    bufs.add(b);
                }
                table.setPointer(32L * i, b);
                table.setLong(32L * i + 8, s.buf().length);
                table.setLong(32L * i + 16, s.mem());
                table.setLong(32L * i + 24, s.memsz());
            }
            libc.syscall(numbers.kexecLoad(), entry, (long) segments.size(), table, flags);
        } catch (LastErrorException e) {
            throw new SyscallException("kexec_load", e.getErrorCode());
        } finally {
            table.close();
            for (Memory b : bufs) b.close();
        }
    }

    @Override
    public void close(int fd) {
        try {
            libc.close(fd);
        } catch (LastErrorException e) {
            throw new SyscallException("close", e.getErrorCode());
        }
    }

    @Override
    public void sync() {
        libc.sync();
    }

    @Override
    public void rebootKexec() {
        try {
            libc.reboot(LINUX_REBOOT_CMD_KEXEC);
        } catch (LastErrorException e) {
            throw new SyscallException("reboot(LINUX_REBOOT_CMD_KEXEC)", e.getErrorCode());
        }
        throw new SyscallException("reboot(LINUX_REBOOT_CMD_KEXEC) returned", 5 /* EIO */);
    }

    private static Memory cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        Memory m = new Memory(b.length + 1L);
        m.write(0, b, 0, b.length);
        m.setByte(b.length, (byte) 0);
        return m;
    }
}
