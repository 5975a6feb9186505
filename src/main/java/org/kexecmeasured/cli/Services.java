package org.kexecmeasured.cli;

import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.tpm.TpmOpener;
import java.util.function.Supplier;

/**
 * What commands get from outside instead of reaching for statics: the TPM opener (tests pass one that
 * wraps the real TPM, e.g. to kill it mid-run) and the kexec loader (tests pass one on a recording
 * syscall seam; the real syscalls run in the QEMU guest). A command that needs them has a constructor
 * taking {@code Services}; its {@code model(Services)} creates it with them.
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
}
