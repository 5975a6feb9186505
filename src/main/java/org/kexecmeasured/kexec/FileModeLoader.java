package org.kexecmeasured.kexec;

import org.kexecmeasured.boot.Loader;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.boot.Sidecar;
import org.kexecmeasured.kexec.KexecFileLoader.Target;

import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;

/**
 * The {@link Loader} of {@code boot}: file mode. Builds the {@link HandOverImage} from the plan's hand-off
 * and the sidecar (computed from the plan, so the initrd already carries the log the commit will write),
 * checks it as the kernel's bzImage64 loader will (x86_64), and loads it with {@code kexec_file_load}. The
 * kernel verifies the image's signature when lockdown asks for it; a refusal leaves the TPM untouched
 * because the commit comes after the load. {@link Loaded#unload()} undoes the load when the commit fails.
 */
public final class FileModeLoader implements Loader {
    private final KexecFileLoader kexec;
    private final Target target;
    private HandOverImage image;
    private boolean unloaded;

    public FileModeLoader(KexecFileLoader kexec, Target target) {
        this.kexec = kexec;
        this.target = target;
    }

    @Override
    public Loaded load(Plan plan, Sidecar sidecar) {
        return load(plan, sidecar.initrdFiles(), sidecar.extraFiles());
    }

    @Override
    public Loaded loadUncommitted(Plan plan, SortedMap<String, byte[]> sidecarFiles) {
        return load(plan, sidecarFiles, Map.of());
    }

    /**
     * Loads the plan's hand-off with these sidecar files (names relative to {@code /.extra/kexec-measured/})
     * and files for {@code /.extra/} itself (the policy's re-authorization signature).
     */
    private Loaded load(Plan plan, Map<String, byte[]> sidecarFiles, Map<String, byte[]> extraFiles) {
        HandOverImage img = HandOverImage.of(plan.handOff(), sidecarFiles, extraFiles);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (arch.equals("amd64") || arch.equals("x86_64")) img.checkForX86_64();
        long t0 = System.nanoTime();
        kexec.load(img, target);
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
                kexec.unload(target);
                unloaded = true;
            }

            @Override
            public String describe() {
                return (unloaded ? "unloaded again: " : "")
                        + (target == Target.CRASH ? "loaded as the crash kernel" : "loaded for kexec")
                        + " with kexec_file_load: kernel " + img.kernel().length + " bytes, initrd " + img.initrd().length
                        + " bytes (the payload's " + img.payloadInitrdSize() + " + sidecar " + img.sidecarSize() + ")";
            }

            @Override
            public boolean loaded() {
                return !unloaded;
            }
        };
    }


    public HandOverImage image() {
        return image;
    }

    public Target target() {
        return target;
    }
}
