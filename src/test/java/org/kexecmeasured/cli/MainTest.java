package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    @Test
    void missingSubcommandIsUsageErrorWithoutTrace() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[0], new PrintWriter(out), new PrintWriter(err));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(err.toString().contains("subcommand is required"), err.toString());
        assertFalse(err.toString().contains("\tat "), "no stack trace: " + err);
    }

    @Test
    void unknownOptionIsUsageError() {
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"--bogus"}, new PrintWriter(new StringWriter()), new PrintWriter(err));
        assertEquals(Main.EXIT_BAD_INPUT, rc);
        assertTrue(err.toString().contains("--bogus"), err.toString());
    }

    /** Start-up: a run builds the model of the subcommands it can reach, and only those. */
    @Test
    void subcommandsAreRegisteredOnlyWhenReachable() {
        assertEquals(java.util.Set.of(), Main.commandLine(Services.DEFAULT, new String[]{"--version"}).getSubcommands().keySet());
        assertEquals(java.util.Set.of("eventlog"),
                Main.commandLine(Services.DEFAULT, new String[]{"eventlog", "show", "x"}).getSubcommands().keySet());
        for (String[] args : new String[][]{{}, {"--help"}, {"nonsense"}, {"gen-manpage", "-d", "x"}, {"generate-completion"}}) {
            assertEquals(java.util.Set.copyOf(Main.SUBCOMMANDS),
                    Main.commandLine(Services.DEFAULT, args).getSubcommands().keySet(), String.join(" ", args));
        }
        // every listed name is the name its model gives
        for (String name : Main.SUBCOMMANDS) {
            assertEquals(name, new picocli.CommandLine(Main.subcommand(name, Services.DEFAULT)).getCommandName());
        }
        StringWriter out = new StringWriter();
        assertEquals(0, Main.execute(new String[]{"--version"}, new PrintWriter(out), new PrintWriter(new StringWriter())));
        assertTrue(out.toString().startsWith("kexec-measured "), out.toString());
    }

    /**
     * Start-up: the library path Main gives JNA (instead of JNA running {@code ldconfig -p} at every start) holds the
     * directories the dynamic linker's cache names for the libraries the tool loads by soname: libc and libcrypto
     * of this machine's architecture (oracle: {@code ldconfig -p}, run here).
     */
    @Test
    void jnaPlatformPathHoldsTheLinkerCacheDirectoriesOfOurLibraries() throws Exception {
        Process p = new ProcessBuilder("/sbin/ldconfig", "-p").redirectErrorStream(true).start();
        String cache = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "ldconfig -p (Debian package libc-bin): " + cache);
        java.util.List<String> path = java.util.List.of(Main.jnaPlatformLibraryPath().split(":"));
        String archTag = System.getProperty("os.arch").equals("amd64") ? "x86-64" : "AArch64";
        for (String soname : new String[]{"libc.so.6", "libcrypto.so.3"}) {
            String dir = cache.lines().map(String::strip)
                    .filter(l -> l.startsWith(soname + " ") && l.contains(archTag))
                    .map(l -> l.substring(l.lastIndexOf(" => ") + 4))
                    .map(f -> java.nio.file.Path.of(f).getParent().toString())
                    .findFirst().orElseThrow(() -> new AssertionError(soname + " not in ldconfig -p: " + cache));
            assertTrue(path.contains(dir), soname + " in " + dir + ", not on " + path);
        }
    }

    /**
     * Main.main leaves out picocli's built-in converters of java.sql's and java.time's types (start-up): so no option or
     * positional parameter of the whole command tree may take such a type without a converter of its own. The oracle
     * is picocli's model of every command.
     */
    @Test
    void noOptionNeedsAConverterMainLeavesOut() {
        java.util.List<String> missing = new java.util.ArrayList<>();
        java.util.ArrayDeque<picocli.CommandLine> todo = new java.util.ArrayDeque<>(java.util.List.of(Main.commandLine(Services.DEFAULT)));
        int checked = 0;
        while (!todo.isEmpty()) {
            picocli.CommandLine c = todo.pop();
            todo.addAll(c.getSubcommands().values());
            for (picocli.CommandLine.Model.ArgSpec a : c.getCommandSpec().args()) {
                checked++;
                java.util.List<Class<?>> types = new java.util.ArrayList<>(java.util.List.of(a.type()));
                types.addAll(java.util.List.of(a.auxiliaryTypes()));
                for (Class<?> t : types) {
                    if (t.getName().matches("java\\.(sql|time)\\..*") && a.converters().length == 0) {
                        missing.add(c.getCommandSpec().qualifiedName() + " " + a.paramLabel() + ": " + t.getName());
                    }
                }
            }
        }
        assertTrue(checked > 100, "the whole tree's options: " + checked);
        assertEquals(java.util.List.of(), missing, "options that need a converter Main.PICOCLI_CONVERTERS_EXCLUDED leaves out");
    }

    /** The exclusion takes effect (picocli's property and its pattern syntax): a Duration without a converter of its own then fails. */
    @Test
    void picocliHonoursTheConverterExclusion() {
        String before = System.getProperty("picocli.converters.excludes");
        try {
            System.setProperty("picocli.converters.excludes", Main.PICOCLI_CONVERTERS_EXCLUDED);
            assertThrows(picocli.CommandLine.ParameterException.class, () -> durationOption().parseArgs("--d", "PT1S"));
            System.clearProperty("picocli.converters.excludes");
            durationOption().parseArgs("--d", "PT1S");
        } finally {
            if (before == null) System.clearProperty("picocli.converters.excludes");
            else System.setProperty("picocli.converters.excludes", before);
        }
    }

    private static picocli.CommandLine durationOption() {
        picocli.CommandLine.Model.CommandSpec s = picocli.CommandLine.Model.CommandSpec.create();
        s.addOption(picocli.CommandLine.Model.OptionSpec.builder("--d").type(java.time.Duration.class).build());
        return new picocli.CommandLine(s);
    }
}
