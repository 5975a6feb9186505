package org.kexecmeasured.cli;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import org.kexecmeasured.boot.Journal;
import org.kexecmeasured.boot.Manifest;
import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.uefi.unicorn.EngineLibrary;
import org.kexecmeasured.util.Json;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Start-up work of the commands that run a payload ({@code boot}, {@code predict}), moved onto a second thread
 * so that it overlaps with what the command does first (reading the payload, opening the TPM, hashing): JNA and libc for
 * the payload's read lease, TSS.Java's
 * command classes (loading {@code tss.Tpm} verifies and loads ~230 of them), OpenSSL's libcrypto and the Unicorn
 * engine through JNA, and Jackson's serializers for what the run writes at its end (the journal, the manifest,
 * {@code --json}). Nothing here has an effect besides loading code and filling caches, so the command does not
 * wait for it: whatever the command reaches first it loads itself, and the JVM's class loading locks make the
 * other thread wait for that class instead of loading it twice. A failure here is ignored: the command then meets
 * the same failure where it is reported properly. The build's class-data-sharing training runs the same steps
 * ({@link #run}), so the archive holds these classes already parsed and verified.
 *
 * <p>Two phases. The {@linkplain #early early} one (what the command needs before and at the start of its plan) runs
 * at the command's priority. The {@linkplain #late late} one (Jackson: ~500 classes and ~0.1 CPU-s, among them the
 * JDK's calendar and locale data for Jackson's date format; a {@code boot} needs it only after the plan, when the
 * journal, the manifest and the result are written) runs at a lower priority ({@link LowPriority}): it starts about
 * when the plan does, and at the command's priority it took ~0.1 CPU-s from the plan's hashing threads and the
 * emulator, which keep both cores of a small machine busy; at nice {@value LowPriority#NICE} it gets a tenth of a
 * busy core and runs where one is idle (after the hashing, while the command waits for the TPM). Not the lowest
 * priority: where the command needs a Jackson class before its plan ends (a UKI's {@code .pcrsig}, systemd's measure
 * log) while this thread initializes it, the command waits for this thread, which must not starve behind busy cores.
 */
final class Warmup {

    private Warmup() {
    }

    /** Starts the warm-up on a daemon thread (it never keeps the JVM alive). */
    static void start() {
        Thread t = new Thread(Warmup::runQuietly, "warmup");
        t.setDaemon(true);
        t.setPriority(Thread.NORM_PRIORITY - 1);
        t.start();
    }

    private static void runQuietly() {
        try {
            early();
            LowPriority.lowerCallingThread();
            late();
        } catch (Throwable e) {
            // only a head start was lost
        }
    }

    /** Every step, in the order the command needs them (the build's class-data-sharing training). */
    static void run() throws Exception {
        early();
        late();
    }

    /** What the command needs first: JNA and libc, TSS.Java, libcrypto, Unicorn. */
    static void early() throws Exception {
        ClassLoader cl = Warmup.class.getClassLoader();
        // the payload's read lease is the command's first native call: JNA (its native part, its library search
        // path) and libc's binding, while the main thread still builds the command's model
        Class.forName("org.kexecmeasured.util.ReadLease$Holder", true, cl);
        // the TPM is opened right after the payload is read
        Class.forName("tss.Tpm", true, cl);
        Class.forName("org.kexecmeasured.tpm.TssTpm", true, cl);
        // then the payload is hashed (libcrypto) and run (Unicorn)
        MultiHasher.create(List.of(org.kexecmeasured.util.HashAlg.SHA256)).close();
        EngineLibrary.get();
    }

    /** What the command needs at its end: Jackson's writers for the journal, the manifest and the result. */
    static void late() throws Exception {
        Json.MAPPER.writerFor(Journal.Header.class);
        Json.MAPPER.writerFor(Journal.Line.class);
        Json.PRETTY.forType(Manifest.class);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("warm", List.of(1L, "x", Map.of("k", true)));
        Json.PRETTY.writeValueAsString(m);
    }

    /**
     * The calling thread's nice value set to {@value #NICE} through libc's {@code setpriority(PRIO_PROCESS, 0, NICE)}: on Linux the
     * nice value belongs to the thread, and {@code who} 0 names the calling thread, not the process (setpriority(2),
     * "BUGS"; kernel/sys.c: {@code p = current}), so the command's other threads keep theirs. Lowering one's own
     * priority needs no privilege. A thread inherits its creator's nice value, so the late phase must start no
     * thread (Jackson starts none).
     */
    static final class LowPriority {
        private static final int PRIO_PROCESS = 0;
        /** Nice 10: a CPU weight of 110 against 1024 at nice 0 (the kernel's sched_prio_to_weight). */
        static final int NICE = 10;

        static {
            Native.register(NativeLibrary.getInstance("c"));
        }

        private LowPriority() {
        }

        /** Returns 0, or -1 where the kernel refused (errno). */
        private static native int setpriority(int which, int who, int prio);

        /** Lowers the calling thread's priority; false where libc refused or is not reachable. */
        static boolean lowerCallingThread() {
            return setpriority(PRIO_PROCESS, 0, NICE) == 0;
        }
    }
}
