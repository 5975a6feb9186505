package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.PcrSource;
import org.kexecmeasured.util.HashAlg;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;

/**
 * Optional expected PCR values for the HTML views ({@code eventlog show --format html}, {@code report}):
 * {@code --tpm TCTI} or {@code --pcrs FILE}, at most one. Without either, nothing is verified.
 */
public final class ExpectedPcrs {

    /** The option given; null when neither was. */
    static final class Source {
        Path pcrsFile;
        String tcti;
    }

    Source source;

    private final Services services;

    ExpectedPcrs(Services services) {
        this.services = services;
    }

    /** Adds {@code [--pcrs=FILE | --tpm=TCTI]} to {@code command} (as the mixin "expected"). */
    void addTo(CommandSpec command) {
        CommandSpec m = CliModel.mixin();
        m.addArgGroup(ArgGroupSpec.builder().exclusive(true).multiplicity("0..1")
                .addArg(CliModel.option("--pcrs", Path.class, () -> source == null ? null : source.pcrsFile,
                                v -> source().pcrsFile = v).paramLabel("FILE").required(true)
                        .description("mark each PCR against these values (tpm2_pcrread YAML or JSON, as eventlog verify reads)").build())
                .addArg(CliModel.option("--tpm", String.class, () -> source == null ? null : source.tcti,
                                v -> source().tcti = v).paramLabel("TCTI").required(true)
                        .description("mark each PCR against this TPM's live values").build())
                .build());
        command.addMixin("expected", m);
    }

    /** The group's values, made when one of its options is given. */
    private Source source() {
        if (source == null) source = new Source();
        return source;
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
