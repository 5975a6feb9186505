package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.PcrSource;
import org.kexecmeasured.util.HashAlg;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;

/**
 * Optional expected PCR values for the HTML views ({@code eventlog show --format html}, {@code report}):
 * {@code --tpm TCTI} or {@code --pcrs FILE}, at most one. Without either, nothing is verified.
 */
public final class ExpectedPcrs {

    static final class Source {
        @Option(names = "--pcrs", paramLabel = "FILE", required = true,
                description = "mark each PCR against these values (tpm2_pcrread YAML or JSON, as eventlog verify reads)")
        Path pcrsFile;

        @Option(names = "--tpm", paramLabel = "TCTI", required = true, description = "mark each PCR against this TPM's live values")
        String tcti;
    }

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Source source;

    private final Services services;

    /** picocli creates the mixin through {@link Services#factory()}, which passes the command's services. */
    ExpectedPcrs(Services services) {
        this.services = services;
    }

    ExpectedPcrs() {
        this(Services.DEFAULT);
    }

    /** The chosen source, or null when neither option was given. */
    PcrSource pcrSource() {
        if (source == null) return null;
        if (source.tcti != null) return new TpmPcrSource(source.tcti, services.tpm());
        Path f = source.pcrsFile;
        return new PcrSource() {
            @Override
            public PcrSet read(List<HashAlg> banks, BitSet pcrs) {
                return PcrSet.parse(new String(EventlogInput.readBytes(f), StandardCharsets.UTF_8), f.toString());
            }

            @Override
            public String describe() {
                return "file " + f;
            }
        };
    }
}
