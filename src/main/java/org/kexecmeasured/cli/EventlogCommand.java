package org.kexecmeasured.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kexec-measured eventlog …}: read, replay and check TCG firmware event logs. */
@Command(name = "eventlog",
        mixinStandardHelpOptions = true,
        description = "Parse, show, replay and verify TCG (TPM 2.0 or SHA-1) firmware event logs.",
        subcommands = {
                EventlogShowCommand.class,
                EventlogReplayCommand.class,
                EventlogVerifyCommand.class,
                EventlogFindingsCommand.class,
                EventlogRecoverCommand.class,
                EventlogMarkUncommittedCommand.class,
        })
public final class EventlogCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "eventlog needs a subcommand (show, replay, verify, findings)");
    }

    /** Indented JSON; util.Json (and with it Jackson's few hundred classes) loads only when JSON is asked for. */
    static String json(Object o) {
        try {
            return org.kexecmeasured.util.Json.PRETTY.writeValueAsString(o);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
