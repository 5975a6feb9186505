package org.kexecmeasured.kexec.testing;

import org.kexecmeasured.kexec.KernelState;
import org.kexecmeasured.kexec.KexecErrors;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.KexecSyscalls;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The kexec syscall seam for tests on the build machine, where loading a kernel must never happen:
 * records every call in order (with what a load was given) and keeps a kernel state like sysfs would.
 * A load can be made to fail with a chosen errno, as the kernel would refuse it. The real syscalls are
 * exercised in the QEMU guest (tests/e2e).
 */
public final class RecordingKexec implements KexecSyscalls {
    public final List<String> calls = new ArrayList<>();
    private final Map<Integer, byte[]> fds = new HashMap<>();
    private int nextFd = 100;
    public int failLoadWith;
    public KernelState.Lockdown lockdown = KernelState.Lockdown.NONE;
    public long crashSize = 256L << 20;
    public boolean loaded, crashLoaded;
    /** What the last successful load got. */
    public byte[] kernel, initrd;
    public String cmdline;
    public long flags;

    public KexecFileLoader loader() {
        return new KexecFileLoader(this, () -> new KernelState(loaded, crashLoaded, crashSize, false, lockdown), () -> true);
    }

    @Override
    public int memfdWith(String name, byte[] data) {
        int fd = nextFd++;
        fds.put(fd, data.clone());
        calls.add("memfd " + name);
        return fd;
    }

    @Override
    public void kexecFileLoad(int kernelFd, int initrdFd, String cmd, long f) {
        boolean unload = (f & 1) != 0, crash = (f & 2) != 0;
        calls.add(unload ? (crash ? "unload crash" : "unload") : (crash ? "load crash" : "load"));
        if (unload) {
            if (crash) crashLoaded = false;
            else loaded = false;
            return;
        }
        if (failLoadWith != 0) throw new SyscallException("kexec_file_load", failLoadWith);
        kernel = fds.get(kernelFd);
        initrd = initrdFd < 0 ? null : fds.get(initrdFd);
        cmdline = cmd;
        flags = f;
        if (crash) crashLoaded = true;
        else loaded = true;
    }

    /** What the last successful kexec_load got. */
    public java.util.List<org.kexecmeasured.kexec.KexecSegment> segments;
    public long entry;

    @Override
    public void kexecLoad(long e, java.util.List<org.kexecmeasured.kexec.KexecSegment> segs, long f) {
        calls.add("kexec_load");
        if (failLoadWith != 0) throw new SyscallException("kexec_load", failLoadWith);
        // the kernel refuses kexec_load under lockdown (kexec_load_check: LOCKDOWN_KEXEC)
        if (lockdown.restrictsKexec()) throw new SyscallException("kexec_load", KexecErrors.EPERM);
        segments = java.util.List.copyOf(segs);
        entry = e;
        flags = f;
        loaded = true;
    }

    @Override
    public void close(int fd) {
        fds.remove(fd);
    }

    @Override
    public void sync() {
        calls.add("sync");
    }

    @Override
    public void rebootKexec() {
        calls.add("reboot");
        // a test machine does not reboot: report what the kernel says when it is not permitted
        throw new SyscallException("reboot(LINUX_REBOOT_CMD_KEXEC)", KexecErrors.EPERM);
    }

    public int openFds() {
        return fds.size();
    }
}
