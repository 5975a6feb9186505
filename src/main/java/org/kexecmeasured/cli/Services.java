package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.TpmOpener;
import picocli.CommandLine;

import java.lang.reflect.Constructor;

/**
 * What commands get from outside instead of reaching for statics: the TPM opener (tests pass one that
 * wraps the real TPM, e.g. to kill it mid-run). A command that needs them has a constructor taking
 * {@code Services}; {@link #factory()} hands them over when picocli creates it.
 *
 * @param tpm opens the TPM named by a TCTI string
 */
public record Services(TpmOpener tpm) {

    /** Production: the real TPM behind each TCTI string. */
    public static final Services DEFAULT = new Services(TpmOpener.DEFAULT);

    public Services withTpm(TpmOpener opener) {
        return new Services(opener);
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
