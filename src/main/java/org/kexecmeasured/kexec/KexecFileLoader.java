package org.kexecmeasured.kexec;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.kexec.KexecException.Kind;
import org.kexecmeasured.kexec.KexecSyscalls.SyscallException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * File mode: {@code kexec_file_load} of a {@link HandOverImage}, unload, and the kexec reboot.
 * The kernel reads the kernel and initrd from file descriptors (memfds here: nothing is written to a
 * file system), verifies the kernel's signature when lockdown or {@code CONFIG_KEXEC_SIG_FORCE} asks
 * for it, and places the segments; a load is reversible ({@link #unload}) and has no side effect on
 * the TPM. The crash target (KEXEC_FILE_ON_CRASH) goes to the {@code crashkernel=} reservation and
 * starts only on a panic.
 *
 * <p>This is the file loader; resume mode (a segment loader on {@code kexec_load} with a purgatory,
 * after full emulation) will sit beside it and share {@link KexecSyscalls}, {@link KernelState} and
 * {@link KexecErrors}.
 */
public final class KexecFileLoader {

    /** Where a loaded image goes. */
    public enum Target {
        /** The kernel {@code reboot(LINUX_REBOOT_CMD_KEXEC)} (or {@code systemctl kexec}) starts. */
        REBOOT,
        /** The crash kernel, started by a panic (kdump). */
        CRASH;

        public String text() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** include/uapi/linux/kexec.h */
    static final long KEXEC_FILE_UNLOAD = 0x1, KEXEC_FILE_ON_CRASH = 0x2, KEXEC_FILE_NO_INITRAMFS = 0x4;
    /** CAP_SYS_BOOT (include/uapi/linux/capability.h): what kexec_file_load and reboot check. */
    private static final int CAP_SYS_BOOT = 22;

    private final KexecSyscalls sys;
    private final Supplier<KernelState> state;
    private final Supplier<Boolean> canBoot;

    public KexecFileLoader(KexecSyscalls sys, Supplier<KernelState> state, Supplier<Boolean> canBoot) {
        this.sys = sys;
        this.state = state;
        this.canBoot = canBoot;
    }

    /** The running system: JNA syscalls, sysfs state, this process's capabilities. */
    public static KexecFileLoader system() {
        return new KexecFileLoader(LinuxSyscalls.load(), KernelState::read, KexecFileLoader::hasCapSysBoot);
    }

    public KernelState state() {
        return state.get();
    }

    /**
     * Loads {@code image} for {@code target}, replacing what was loaded there. Refusals the kernel
     * would give for reasons outside the image are checked first (no crash reservation, disabled).
     */
    public void load(HandOverImage image, Target target) {
        boolean crash = target == Target.CRASH;
        KernelState before = state.get();
        if (Boolean.TRUE.equals(before.kexecDisabled())) {
            throw KexecErrors.load(KexecErrors.EPERM, crash, before, true);
        }
        if (crash && Long.valueOf(0).equals(before.crashSize())) {
            throw new KexecException(Kind.REFUSED, 0, "no crash kernel memory is reserved "
                    + "(/sys/kernel/kexec_crash_size is 0): boot with crashkernel=… to load a crash kernel");
        }
        long flags = crash ? KEXEC_FILE_ON_CRASH : 0;
        byte[] initrd = image.initrd();
        int kernelFd = -1, initrdFd = -1;
        try {
            kernelFd = sys.memfdWith("kexec-measured-kernel", image.kernel());
            if (initrd.length > 0) {
                initrdFd = sys.memfdWith("kexec-measured-initrd", initrd);
            } else {
                flags |= KEXEC_FILE_NO_INITRAMFS;
            }
            sys.kexecFileLoad(kernelFd, initrdFd, image.cmdline(), flags);
        } catch (SyscallException e) {
            if (e.call().equals("kexec_file_load")) {
                throw KexecErrors.load(e.errno(), crash, state.get(), canBoot.get());
            }
            throw new KexecException(e.errno() == KexecErrors.ENOMEM ? Kind.REFUSED : Kind.INTERNAL, e.errno(),
                    "preparing the image for kexec_file_load: " + e.getMessage());
        } finally {
            closeQuietly(initrdFd);
            closeQuietly(kernelFd);
        }
    }

    /** Unloads what {@code target} holds (a no-op for the kernel when nothing is loaded). */
    public void unload(Target target) {
        boolean crash = target == Target.CRASH;
        try {
            sys.kexecFileLoad(-1, -1, null, KEXEC_FILE_UNLOAD | (crash ? KEXEC_FILE_ON_CRASH : 0));
        } catch (SyscallException e) {
            throw KexecErrors.unload(e.errno(), crash, canBoot.get());
        }
    }

    /**
     * Syncs file systems and starts the loaded kernel at once, like {@code kexec -e}: services are
     * not stopped (for an orderly shutdown first, {@code systemctl kexec}). Returns only by throwing.
     */
    public void exec() {
        KernelState s = state.get();
        if (Boolean.FALSE.equals(s.loaded())) {
            throw new KexecException(Kind.REFUSED, 0, "no kernel is loaded for kexec (/sys/kernel/kexec_loaded is 0): "
                    + "load one with 'kexec-measured boot PAYLOAD …' first");
        }
        sys.sync();
        try {
            sys.rebootKexec();
        } catch (SyscallException e) {
            throw KexecErrors.exec(e.errno(), canBoot.get());
        }
    }

    private void closeQuietly(int fd) {
        if (fd < 0) return;
        try {
            sys.close(fd);
        } catch (SyscallException ignored) {
            // the fd is gone either way; the load's own outcome is what counts
        }
    }

    /** CAP_SYS_BOOT in this process's effective set ({@code CapEff} of /proc/self/status). */
    static boolean hasCapSysBoot() {
        return hasCapSysBoot(Path.of("/proc/self/status"));
    }

    static boolean hasCapSysBoot(Path status) {
        try {
            String text = new String(BoundedFiles.read(status, BoundedFiles.TEXT), java.nio.charset.StandardCharsets.US_ASCII);
            for (String line : text.split("\n")) {
                if (line.startsWith("CapEff:")) {
                    long caps = Long.parseUnsignedLong(line.substring(7).trim(), 16);
                    return (caps & (1L << CAP_SYS_BOOT)) != 0;
                }
            }
        } catch (org.kexecmeasured.util.BadInputException | NumberFormatException e) {
            // unknown: let the kernel decide and report what it says
        }
        return true;
    }
}
