package org.kexecmeasured.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.List;

/** {@code kexec-measured eventlog …}: read, replay and check TCG firmware event logs. */
@Command(name = "eventlog",
        mixinStandardHelpOptions = true,
        description = "Parse, show, replay and verify TCG (TPM 2.0 or SHA-1) firmware event logs.")
public final class EventlogCommand implements Runnable {

    /**
     * The subcommands in help order, registered by {@link Main} (not in the annotation): a run of one of them
     * builds only that one's model, as for the top-level commands.
     */
    static final List<String> SUBCOMMANDS = List.of("show", "replay", "verify", "findings", "recover", "mark-uncommitted");

    /** The class of a subcommand; a switch, so that only the chosen class is loaded. */
    static Class<?> subcommandClass(String name) {
        return switch (name) {
            case "show" -> EventlogShowCommand.class;
            case "replay" -> EventlogReplayCommand.class;
            case "verify" -> EventlogVerifyCommand.class;
            case "findings" -> EventlogFindingsCommand.class;
            case "recover" -> EventlogRecoverCommand.class;
            case "mark-uncommitted" -> EventlogMarkUncommittedCommand.class;
            default -> null;
        };
    }

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
