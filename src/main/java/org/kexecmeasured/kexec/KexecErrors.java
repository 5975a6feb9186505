package org.kexecmeasured.kexec;

import org.kexecmeasured.kexec.KexecException.Kind;

import java.util.Map;

/**
 * Turns the errno of a kexec system call into a sentence that says what the kernel checked and what
 * to do, with the {@link Kind} that picks the exit code. The causes come from Linux's
 * {@code kernel/kexec_file.c} ({@code kexec_file_load}, {@code kimage_validate_signature}),
 * {@code arch/x86/kernel/kexec-bzimage64.c} and {@code kernel/reboot.c} (6.1); the same errno can
 * have several causes, so the kernel state (lockdown mode, sysctl, crash reservation, root) decides
 * which sentence is true.
 */
public final class KexecErrors {
    public static final int EPERM = 1, ENOENT = 2, EIO = 5, ENOEXEC = 8, EBADF = 9, ENOMEM = 12, EFAULT = 14,
            EBUSY = 16, EINVAL = 22, EFBIG = 27, ENOSYS = 38, ENODATA = 61, ENOPKG = 65, EBADMSG = 74,
            EADDRNOTAVAIL = 99, ENOKEY = 126, EKEYEXPIRED = 127, EKEYREVOKED = 128, EKEYREJECTED = 129;

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(EPERM, "EPERM"), Map.entry(ENOENT, "ENOENT"), Map.entry(EIO, "EIO"),
            Map.entry(ENOEXEC, "ENOEXEC"), Map.entry(EBADF, "EBADF"), Map.entry(ENOMEM, "ENOMEM"),
            Map.entry(EFAULT, "EFAULT"), Map.entry(EBUSY, "EBUSY"), Map.entry(EINVAL, "EINVAL"),
            Map.entry(EFBIG, "EFBIG"), Map.entry(ENOSYS, "ENOSYS"), Map.entry(ENODATA, "ENODATA"),
            Map.entry(ENOPKG, "ENOPKG"), Map.entry(EBADMSG, "EBADMSG"), Map.entry(EADDRNOTAVAIL, "EADDRNOTAVAIL"),
            Map.entry(ENOKEY, "ENOKEY"), Map.entry(EKEYEXPIRED, "EKEYEXPIRED"), Map.entry(EKEYREVOKED, "EKEYREVOKED"),
            Map.entry(EKEYREJECTED, "EKEYREJECTED"));

    private KexecErrors() {
    }

    public static String errnoName(int errno) {
        return NAMES.getOrDefault(errno, "errno " + errno);
    }

    /**
     * A failed {@code kexec_file_load} that tried to load an image.
     *
     * @param crash  loading the crash kernel (KEXEC_FILE_ON_CRASH)
     * @param state  the kernel state read right after the failure
     * @param root   whether the process runs as uid 0 (CAP_SYS_BOOT is what counts; uid 0 is the usual carrier)
     */
    public static KexecException load(int errno, boolean crash, KernelState state, boolean root) {
        String what = crash ? "crash kernel" : "kernel";
        String e = " (kexec_file_load: " + errnoName(errno) + ")";
        return switch (errno) {
            case EPERM -> {
                if (!root) {
                    yield new KexecException(Kind.REFUSED, errno, "loading a " + what + " needs root (CAP_SYS_BOOT)" + e);
                }
                if (Boolean.TRUE.equals(state.kexecDisabled())) {
                    yield new KexecException(Kind.REFUSED, errno, "kexec is disabled on this system "
                            + "(kernel.kexec_load_disabled = 1, which stays set until the next boot)" + e);
                }
                if (state.lockdown().restrictsKexec()) {
                    yield new KexecException(Kind.SIGNATURE_REJECTED, errno, "the running kernel is locked down ("
                            + state.lockdown().text() + ") and refused the " + what + " image: it carries no signature "
                            + "from a key the kernel trusts (builtin/secondary keyring, or the platform keyring from "
                            + "UEFI db / shim's MokList); sign the kernel with such a key" + e);
                }
                yield new KexecException(Kind.REFUSED, errno, "the kernel did not permit loading a " + what
                        + " (no CAP_SYS_BOOT in this namespace, or a security module refused it)" + e);
            }
            case ENOKEY, EKEYREJECTED, EKEYEXPIRED, EKEYREVOKED, EBADMSG, ENODATA, ENOPKG ->
                    new KexecException(Kind.SIGNATURE_REJECTED, errno, "the running kernel enforces kexec image "
                            + "signatures and rejected the " + what + "'s: " + signatureCause(errno) + e);
            case ENOEXEC -> new KexecException(Kind.BAD_IMAGE, errno, "the running kernel cannot load this " + what
                    + " image with kexec_file_load: on x86_64 it takes a 64-bit bzImage (boot protocol 2.12 or later, "
                    + "XLF_KERNEL_64, loadable above 4 GiB), on arm64 an uncompressed Image" + e);
            case ENOMEM -> new KexecException(Kind.REFUSED, errno, "not enough memory to place the " + what
                    + " and its initrd" + (crash ? crashReservation(state) : "") + e);
            case EADDRNOTAVAIL -> new KexecException(Kind.REFUSED, errno, "no memory range fits the " + what
                    + " segments" + (crash ? crashReservation(state) : "") + e);
            case EBUSY -> new KexecException(Kind.REFUSED, errno, "another kexec load or unload is in progress; "
                    + "try again" + (crash ? " (a crash kernel cannot be replaced while a crash dump is being taken)" : "") + e);
            case EINVAL -> new KexecException(Kind.REFUSED, errno, "the kernel rejected the arguments: "
                    + "the command line is longer than the image's cmdline_size or not terminated, or an unknown flag"
                    + (crash && Long.valueOf(0).equals(state.crashSize()) ? ", or no crash kernel memory is reserved "
                    + "(boot with crashkernel=…)" : "") + e);
            case EFBIG -> new KexecException(Kind.BAD_IMAGE, errno, "the " + what + " or initrd is larger than the "
                    + "kernel reads for kexec" + e);
            case ENOSYS -> new KexecException(Kind.REFUSED, errno, "the running kernel has no kexec_file_load "
                    + "(built without CONFIG_KEXEC_FILE)" + e);
            default -> new KexecException(Kind.INTERNAL, errno, "kexec_file_load of the " + what + " failed" + e);
        };
    }

    /** Resume mode is impossible under lockdown: what the user is told, before or after the kernel said EPERM. */
    public static KexecException resumeUnderLockdown(KernelState.Lockdown mode, int errno) {
        return new KexecException(Kind.REFUSED, errno, "resume mode (--full-emulation) needs kexec_load, which the "
                + "running kernel refuses while it is locked down (" + mode.text() + "): nothing was extended or loaded; "
                + "boot without --full-emulation (file mode: kexec_file_load of the signed kernel)"
                + (errno != 0 ? " (kexec_load: " + errnoName(errno) + ")" : ""));
    }

    /** A failed {@code kexec_load} of a resume image (x86_64 syscall 246). */
    public static KexecException loadSegments(int errno, KernelState state, boolean root) {
        String e = " (kexec_load: " + errnoName(errno) + ")";
        return switch (errno) {
            case EPERM -> {
                if (state.lockdown().restrictsKexec()) yield resumeUnderLockdown(state.lockdown(), errno);
                if (!root) yield new KexecException(Kind.REFUSED, errno, "loading a kernel needs root (CAP_SYS_BOOT)" + e);
                if (Boolean.TRUE.equals(state.kexecDisabled())) {
                    yield new KexecException(Kind.REFUSED, errno, "kexec is disabled on this system "
                            + "(kernel.kexec_load_disabled = 1, which stays set until the next boot)" + e);
                }
                yield new KexecException(Kind.REFUSED, errno, "the kernel did not permit kexec_load (no CAP_SYS_BOOT in "
                        + "this namespace, lockdown not visible here, or a security module refused it)" + e);
            }
            case ENOMEM -> new KexecException(Kind.REFUSED, errno, "the resume image's segments need more memory than "
                    + "the kernel can stage (at most half of RAM)" + e);
            case EADDRNOTAVAIL, EINVAL -> new KexecException(Kind.BAD_IMAGE, errno, "the kernel refused the resume "
                    + "image's segment list (a segment outside the addresses it accepts, overlapping or unaligned)" + e);
            case EBUSY -> new KexecException(Kind.REFUSED, errno, "another kexec load or unload is in progress; try again" + e);
            case ENOSYS -> new KexecException(Kind.REFUSED, errno, "the running kernel has no kexec_load "
                    + "(built without CONFIG_KEXEC)" + e);
            default -> new KexecException(Kind.INTERNAL, errno, "kexec_load of the resume image failed" + e);
        };
    }

    /** A failed {@code kexec_file_load(KEXEC_FILE_UNLOAD)}. */
    public static KexecException unload(int errno, boolean crash, boolean root) {
        String e = " (kexec_file_load unload: " + errnoName(errno) + ")";
        String what = crash ? "the crash kernel" : "the loaded kernel";
        return switch (errno) {
            case EPERM -> new KexecException(Kind.REFUSED, errno, "unloading " + what + " needs root (CAP_SYS_BOOT)"
                    + (root ? " or kexec is disabled (kernel.kexec_load_disabled)" : "") + e);
            case EBUSY -> new KexecException(Kind.REFUSED, errno, "another kexec operation is in progress; try again" + e);
            case ENOSYS -> new KexecException(Kind.REFUSED, errno, "the running kernel has no kexec_file_load" + e);
            default -> new KexecException(Kind.INTERNAL, errno, "unloading " + what + " failed" + e);
        };
    }

    /** A failed {@code reboot(LINUX_REBOOT_CMD_KEXEC)} (it only returns on failure). */
    public static KexecException exec(int errno, boolean root) {
        String e = " (reboot(LINUX_REBOOT_CMD_KEXEC): " + errnoName(errno) + ")";
        return switch (errno) {
            case EPERM -> new KexecException(Kind.REFUSED, errno, root
                    ? "the kernel did not permit the kexec reboot (no CAP_SYS_BOOT in this namespace)" + e
                    : "starting the loaded kernel needs root (CAP_SYS_BOOT)" + e);
            case EINVAL -> new KexecException(Kind.REFUSED, errno, "no kernel is loaded for kexec" + e);
            default -> new KexecException(Kind.INTERNAL, errno, "the kexec reboot failed" + e);
        };
    }

    private static String signatureCause(int errno) {
        return switch (errno) {
            case ENOKEY -> "no trusted key matches the signer";
            case EKEYREJECTED -> "the signature does not verify";
            case EKEYEXPIRED -> "the signing key has expired";
            case EKEYREVOKED -> "the signing key is revoked (blacklisted)";
            case EBADMSG -> "the signature is malformed";
            case ENODATA -> "the image is not signed";
            case ENOPKG -> "the signature uses an algorithm the kernel lacks";
            default -> errnoName(errno);
        };
    }

    private static String crashReservation(KernelState s) {
        if (s.crashSize() == null) return "";
        if (s.crashSize() == 0) return ": no crash kernel memory is reserved (boot with crashkernel=…)";
        return ": the crash kernel reservation (crashkernel=, " + (s.crashSize() >> 20) + " MiB) is too small";
    }
}
