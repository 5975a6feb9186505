package org.kexecmeasured.kexec;

import org.kexecmeasured.boot.Loader;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.boot.Sidecar;
import org.kexecmeasured.kexec.KexecFileLoader.Target;
import org.kexecmeasured.kexec.KexecSyscalls.SyscallException;
import org.kexecmeasured.uefi.PostEbsState;
import org.kexecmeasured.uefi.RamRange;

import java.util.List;
import java.util.function.Supplier;

/**
 * The {@link Loader} of {@code boot --full-emulation} (resume mode): {@code kexec_load} of a {@link ResumeImage}
 * built from the plan's resume state, so the next "kernel" is the payload itself, going on from the return of its
 * ExitBootServices on the real machine. Like file mode it loads between the decision and the commit: a refusal
 * leaves the TPM untouched. {@code kexec_load} is refused under lockdown; {@link #checkAllowed()} says so before the
 * payload even runs, and an EPERM from the kernel is reported the same way.
 *
 * <p>A Linux kernel (the capture is at its EFI stub's jump into the kernel) gets its boot_params pointed at the real
 * firmware with SETUP_EFI, the real runtime map and e820 table, and a configuration-table copy whose
 * LINUX_EFI_TPM_EVENT_LOG entry is the sidecar's continued log ({@link LinuxHandOver}); the real firmware's facts are
 * read ({@link HostEfi}) and every segment is checked against the real memory map before {@code kexec_load}. Any
 * other payload (memtest86+) resumes where its ExitBootServices returned and finds the emulator's system table,
 * copied as a segment.
 */
public final class ResumeLoader implements Loader {
    private final KexecSyscalls sys;
    private final Supplier<KernelState> state;
    private final Supplier<Boolean> canBoot;
    private final List<RamRange> ram;
    private final Supplier<HostEfi> efi;
    private ResumeImage image;
    private boolean unloaded;

    /** @param ram the emulated RAM layout the plan ran in ({@link HostMemory#read()} on a real machine) */
    public ResumeLoader(KexecSyscalls sys, Supplier<KernelState> state, Supplier<Boolean> canBoot, List<RamRange> ram) {
        this(sys, state, canBoot, ram, HostEfi::read);
    }

    /** @param efi the real firmware's facts, read only when the payload is a Linux kernel */
    public ResumeLoader(KexecSyscalls sys, Supplier<KernelState> state, Supplier<Boolean> canBoot, List<RamRange> ram,
                        Supplier<HostEfi> efi) {
        this.sys = sys;
        this.state = state;
        this.canBoot = canBoot;
        this.ram = List.copyOf(ram);
        this.efi = efi;
    }

    /** The running system (JNA syscalls, sysfs) with RAM laid out as {@code ram}. */
    public static ResumeLoader system(List<RamRange> ram) {
        return new ResumeLoader(LinuxSyscalls.load(), KernelState::read, KexecFileLoader::hasCapSysBoot, ram);
    }

    /** Refuses at once when the kernel will refuse kexec_load (lockdown, or kexec disabled): before any work. */
    public void checkAllowed() {
        KernelState s = state.get();
        if (s.lockdown().restrictsKexec()) throw KexecErrors.resumeUnderLockdown(s.lockdown(), 0);
        if (Boolean.TRUE.equals(s.kexecDisabled())) throw KexecErrors.loadSegments(KexecErrors.EPERM, s, canBoot.get());
    }

    @Override
    public Loaded load(Plan plan, Sidecar sidecar) {
        if (plan.resume() == null) {
            throw new IllegalStateException("resume mode needs a plan made with the resume capture");
        }
        checkAllowed();
        ResumeImage img = image(plan.resume(), sidecar.eventLog());
        long t0 = System.nanoTime();
        try {
            sys.kexecLoad(img.entry(), img.segments(), 0);
        } catch (SyscallException e) {
            throw KexecErrors.loadSegments(e.errno(), state.get(), canBoot.get());
        }
        long micros = (System.nanoTime() - t0) / 1000;
        image = img;
        return new Loaded() {
            @Override
            public long loadMicros() {
                return micros;
            }

            @Override
            public void unload() {
                if (unloaded) return;
                new KexecFileLoader(sys, state, canBoot).unload(Target.REBOOT); // unloads the one kexec slot
                unloaded = true;
            }

            @Override
            public String describe() {
                return (unloaded ? "unloaded again: " : "") + "loaded for kexec with kexec_load (resume mode): "
                        + img.segments().size() + " segments, " + img.bytes() + " bytes, purgatory at 0x"
                        + Long.toHexString(img.entry()) + (plan.resume().point() == PostEbsState.Point.KERNEL_ENTRY
                        ? " entering the Linux kernel at 0x" + Long.toHexString(plan.resume().entry()) + " (boot_params: "
                        + "the real firmware's system table and runtime map with SETUP_EFI, the continued log as its "
                        + "LINUX_EFI_TPM_EVENT_LOG)"
                        : " resuming the payload at 0x" + Long.toHexString(plan.resume().entry()));
            }

            @Override
            public boolean loaded() {
                return !unloaded;
            }
        };
    }

    /** The image: for a Linux kernel with the real firmware's hand-over and the continued log ({@link LinuxHandOver}). */
    ResumeImage image(PostEbsState captured, byte[] continuedLog) {
        if (captured.point() != PostEbsState.Point.KERNEL_ENTRY) return ResumeImage.of(captured, ram);
        HostEfi real = efi.get();
        ResumeImage img = ResumeImage.of(LinuxHandOver.apply(captured, ram, real, continuedLog), ram);
        LinuxHandOver.checkInRealRam(img.segments(), real.e820());
        return img;
    }

    public ResumeImage image() {
        return image;
    }
}
