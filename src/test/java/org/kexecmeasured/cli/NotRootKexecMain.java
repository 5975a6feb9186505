package org.kexecmeasured.cli;

import org.kexecmeasured.kexec.KernelState;
import org.kexecmeasured.kexec.KexecErrors;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.testing.RecordingKexec;

import java.io.PrintWriter;

/**
 * The CLI in a child JVM with the kexec seam of a process that is not root: every kexec_file_load is
 * refused with EPERM, as the kernel refuses a caller without CAP_SYS_BOOT, and the capability check says
 * "not root". Nothing reaches the real kexec system calls (a test machine must never load a kernel).
 * Used by {@link KillNineTest} for kills on the hand-over path.
 */
public final class NotRootKexecMain {
    private NotRootKexecMain() {
    }

    public static void main(String[] args) {
        RecordingKexec k = new RecordingKexec();
        k.failLoadWith = KexecErrors.EPERM;
        KexecFileLoader notRoot = new KexecFileLoader(k,
                () -> new KernelState(false, false, 0L, false, KernelState.Lockdown.NONE), () -> false);
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int rc = Main.execute(args, out, err, Services.DEFAULT.withKexec(() -> notRoot));
        out.flush();
        err.flush();
        System.exit(rc);
    }
}
