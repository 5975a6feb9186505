package org.kexecmeasured.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

import java.util.List;

/** {@code kexec-measured eventlog …}: read, replay and check TCG firmware event logs. */
public final class EventlogCommand implements Runnable {

    CommandSpec spec;

    /** This command's model, without subcommands ({@link Main} registers them). */
    static CommandSpec model() {
        EventlogCommand c = new EventlogCommand();
        c.spec = CliModel.command(c, "eventlog", "Parse, show, replay and verify TCG (TPM 2.0 or SHA-1) firmware event logs.");
        return CliModel.withStandardHelp(c.spec);
    }

    /**
     * The subcommands in help order, registered by {@link Main} (not in {@link #model()}): a run of one of them
     * builds only that one's model, as for the top-level commands.
     */
    static final List<String> SUBCOMMANDS = List.of("show", "replay", "verify", "findings", "recover", "mark-uncommitted");

    /** A subcommand's model; a switch, so that only the chosen command's class is loaded. */
    static Object subcommand(String name, Services services) {
        return switch (name) {
            case "show" -> EventlogShowCommand.model(services);
            case "replay" -> EventlogReplayCommand.model();
            case "verify" -> EventlogVerifyCommand.model(services);
            case "findings" -> EventlogFindingsCommand.model();
            case "recover" -> EventlogRecoverCommand.model(services);
            case "mark-uncommitted" -> EventlogMarkUncommittedCommand.model(services);
            default -> null;
        };
    }

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
