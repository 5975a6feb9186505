package org.kexecmeasured.cli;

import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.tpm.TpmOpener;
import picocli.CommandLine;

import java.lang.reflect.Constructor;
import java.util.function.Supplier;

/**
 * What commands get from outside instead of reaching for statics: the TPM opener (tests pass one that
 * wraps the real TPM, e.g. to kill it mid-run) and the kexec loader (tests pass one on a recording
 * syscall seam; the real syscalls run in the QEMU guest). A command that needs them has a constructor
 * taking {@code Services}; {@link #factory()} hands them over when picocli creates it.
 *
 * @param tpm   opens the TPM named by a TCTI string
 * @param kexec the running kernel's kexec (JNA syscalls, sysfs state), made when a command needs it
 */
public record Services(TpmOpener tpm, Supplier<KexecFileLoader> kexec) {

    /** Production: the real TPM behind each TCTI string, the real kexec system calls. */
    public static final Services DEFAULT = new Services(TpmOpener.DEFAULT, KexecFileLoader::system);

    public Services withTpm(TpmOpener opener) {
        return new Services(opener, kexec);
    }

    public Services withKexec(Supplier<KexecFileLoader> loader) {
        return new Services(tpm, loader);
    }

    /** A picocli factory that passes these services to every command with a {@code (Services)} constructor. */
    CommandLine.IFactory factory() {
        CommandLine.IFactory fallback = CommandLine.defaultFactory();
        return new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                Constructor<K> c;
                try {
                    c = cls.getDeclaredConstructor(Services.class);
                } catch (NoSuchMethodException e) {
                    return fallback.create(cls);
                }
                return c.newInstance(Services.this);
            }
        };
    }
}
