package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.SyntheticLog;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Hidden: writes a synthetic crypto-agile log for benchmarks (tests/bench/eventlog.sh). */
@Command(name = "synth", hidden = true, mixinStandardHelpOptions = true,
        description = "Write a synthetic crypto-agile event log (for benchmarks).")
public final class EventlogSynthCommand implements Runnable {
    @Option(names = "--events", defaultValue = "100000", description = "number of records after the Spec ID record")
    int events;

    @Option(names = "--banks", split = ",", defaultValue = "sha1,sha256,sha384", description = "banks (default ${DEFAULT-VALUE})")
    List<String> banks;

    @Option(names = {"-o", "--output"}, required = true, description = "output file")
    Path output;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        if (events < 0 || events > 10_000_000) throw new BadInputException("--events must be 0…10000000");
        List<HashAlg> algs = new ArrayList<>();
        for (String b : banks) algs.add(HashAlg.fromName(b));
        EventLog log = SyntheticLog.generate(algs, events, seed);
        try {
            Files.write(output, log.toBytes());
        } catch (IOException e) {
            throw new BadInputException(output + ": cannot write: " + e.getMessage());
        }
        spec.commandLine().getOut().printf("%s: %d records, %d bytes%n", output, log.events().size(), log.toBytes().length);
    }
}
