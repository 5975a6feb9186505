package org.kexecmeasured.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.IGetter;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The few pieces every command's model is built from, through picocli's programmatic API: each command declares its
 * model in a static {@code model(…)} method next to its fields, so no annotation is read at run time. Reading
 * annotations cost a start-up ~0.1 s: the JDK parses each one and generates a dynamic proxy class per annotation type
 * ({@code jdk.proxy*.$Proxy*}, which the class-data-sharing archive cannot keep), and picocli then walks every field
 * by reflection. An option's value still lives in its command's field: {@link #option} binds it through a getter and
 * a setter lambda instead of a reflected {@code Field}.
 */
final class CliModel {

    /** picocli's key for the standard help mixin ({@code CommandSpec.mixinStandardHelpOptions()} tests it). */
    private static final String STANDARD_HELP = "mixinStandardHelpOptions";

    private CliModel() {
    }

    /**
     * A command's model: its name and description, the user object being {@code command} (picocli runs it). The
     * command adds its options and positional parameters, then {@link #withStandardHelp}.
     */
    static CommandSpec command(Object command, String name, String... description) {
        CommandSpec s = CommandSpec.wrapWithoutInspection(command);
        s.name(name);
        s.usageMessage().description(description);
        return s;
    }

    /**
     * Adds {@code -h/--help} and {@code -V/--version} as {@code @Command(mixinStandardHelpOptions = true)} declares
     * them — last, where that puts them (the completion script lists the options in model order) — and returns
     * {@code command}. picocli's own switch for them ({@code CommandSpec.mixinStandardHelpOptions(true)}) would read
     * the annotations of its {@code AutoHelpMixin}.
     */
    static CommandSpec withStandardHelp(CommandSpec command) {
        CommandSpec m = CommandSpec.create();
        m.addOption(OptionSpec.builder("-h", "--help").usageHelp(true).descriptionKey("mixinStandardHelpOptions.help")
                .description("Show this help message and exit.").build());
        m.addOption(OptionSpec.builder("-V", "--version").versionHelp(true).descriptionKey("mixinStandardHelpOptions.version")
                .description("Print version information and exit.").build());
        command.addMixin(STANDARD_HELP, m);
        return command;
    }

    /**
     * The "Exit codes" list of {@code command}'s help, each entry {@code "CODE:meaning"} (as
     * {@code @Command(exitCodeList)} takes them), in this order.
     */
    static void exitCodes(CommandSpec command, String... codes) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String c : codes) {
            int colon = c.indexOf(':');
            m.put(c.substring(0, colon), c.substring(colon + 1));
        }
        command.usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(m);
    }

    /** A mixin: a group of options declared once and added to each command that takes them (as {@code @Mixin}). */
    static CommandSpec mixin() {
        return CommandSpec.create();
    }

    /**
     * An option of {@code type} (the element type goes in {@code auxiliaryTypes} for a list) whose value is a field:
     * picocli reads it with {@code get} (a list it appends to) and writes it with {@code set}; the field's value now is
     * the initial value picocli restores before each parse (as it reads an annotated field's).
     */
    static <T> OptionSpec.Builder option(String name, Class<?> type, Supplier<T> get, Consumer<T> set) {
        Binding<T> b = new Binding<>(get, set);
        return OptionSpec.builder(name).type(type).getter(b).setter(b).initialValue(get.get());
    }

    /** A positional parameter bound like {@link #option}. */
    static <T> PositionalParamSpec.Builder positional(String paramLabel, Class<?> type, Supplier<T> get, Consumer<T> set) {
        Binding<T> b = new Binding<>(get, set);
        return PositionalParamSpec.builder().paramLabel(paramLabel).type(type).getter(b).setter(b).initialValue(get.get());
    }

    /** A field as picocli's getter and setter; picocli's values are of the option's declared type. */
    private static final class Binding<T> implements IGetter, ISetter {
        private final Supplier<T> get;
        private final Consumer<T> set;

        Binding(Supplier<T> get, Consumer<T> set) {
            this.get = get;
            this.set = set;
        }

        @Override
        @SuppressWarnings("unchecked")
        public <V> V get() {
            return (V) get.get();
        }

        @Override
        @SuppressWarnings("unchecked")
        public <V> V set(V value) {
            V old = get();
            set.accept((T) value);
            return old;
        }
    }
}
