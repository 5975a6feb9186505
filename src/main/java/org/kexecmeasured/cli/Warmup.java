package org.kexecmeasured.cli;

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
 * engine through JNA, and for {@code predict} Jackson's databind (its {@code ObjectMapper}, ~0.1 CPU-s with the JDK's
 * locale data for its date format: predict parses its policy and writes its report with it). Not for {@code boot}: what
 * a boot writes goes through util.JsonOut's streaming writers (a few dozen jackson-core classes that
 * boot.Sidecar#warmUp loads on the planner's warm-tail thread), and a boot with the built-in policy reads no JSON, so
 * creating the mapper there would only take CPU from the hashing threads. Nothing here has an effect besides loading code and filling caches, so the command does not
 * wait for it: whatever the command reaches first it loads itself, and the JVM's class loading locks make the
 * other thread wait for that class instead of loading it twice. A failure here is ignored: the command then meets
 * the same failure where it is reported properly. The build's class-data-sharing training runs the same steps
 * ({@link #start}, joined), so the archive holds these classes already parsed and verified.
 *
 * <p>At the command's priority. Lowering it (tried in session 7, at nice 10, when this thread also built Jackson's
 * databind serializers) was not kept: whatever the command needs while the lowered thread holds it (a class it
 * initializes) then waits for a thread that gets little CPU while the plan runs — in one run on a loaded machine the
 * command's thread stood still 0.14 s and went on as the lowered thread finished — and no gain could be measured.
 */
final class Warmup {

    private Warmup() {
    }

    /**
     * Starts the warm-up on a daemon thread (it never keeps the JVM alive) and returns that thread; {@code databind}:
     * predict's, with Jackson's mapper. The class-data-sharing training starts it the same way (and joins it), so the
     * archive holds this method's lambda, the first lambda of a boot, which would otherwise be spun on the command's
     * thread before the warm-up can begin.
     */
    static Thread start(boolean databind) {
        Thread t = new Thread(() -> runQuietly(databind), "warmup");
        t.setDaemon(true);
        t.setPriority(Thread.NORM_PRIORITY - 1);
        t.start();
        return t;
    }

    private static void runQuietly(boolean databind) {
        try {
            run(databind);
        } catch (Throwable e) {
            // only a head start was lost
        }
    }

    /** The steps, in the order the command needs them. */
    static void run(boolean databind) throws Exception {
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
        // boot's journal, sidecar and result are written at the end through util.JsonOut: warmed by the boot's planner
        // on its warm-tail thread (boot.Sidecar#warmUp, during the emulation), not here
        if (databind) {
            // predict: the mapper (its static set-up loads the JDK's calendar and locale data) and its map writers
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("warm", List.of(1L, "x", Map.of("k", true)));
            Json.PRETTY.writeValueAsString(m);
        }
    }
}
