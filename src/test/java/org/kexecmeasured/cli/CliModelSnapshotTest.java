package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The command-line model's regression oracle: every command's {@code --help}, the bash completion script, the man
 * pages' AsciiDoc and what a set of argument vectors parse into (the command objects' field values, or the error
 * line and exit code) are compared with snapshots in {@code src/test/resources/org/kexecmeasured/cli/model/}. The
 * snapshots were written by the annotation-built model (commit "cli: snapshots of the annotated command model"),
 * before the commands declared their models through picocli's programmatic API, so the two models are compared
 * output for output. To rewrite them after an intended change of the command line:
 * {@code mvn -B -ntp -o test -Dtest=CliModelSnapshotTest -Dcli.snapshots.write=src/test/resources/org/kexecmeasured/cli/model}
 * and review the diff.
 */
class CliModelSnapshotTest {

    private static final String DIR = "model/";

    /** Every command path of the tree (the hidden ones too). */
    static final List<String> COMMANDS = List.of("", "generate-completion", "gen-manpage", "inspect", "eventlog",
            "eventlog show", "eventlog replay", "eventlog verify", "eventlog findings", "eventlog recover",
            "eventlog mark-uncommitted", "tpm", "tpm info", "tpm pcrs", "emulate", "predict", "boot", "commit-pending",
            "exec", "unload", "report");

    /**
     * Argument vectors, one a line: valid ones (each option of each command, defaults, splits, converters) and
     * invalid ones (unknown options, missing required ones, exclusive groups, bad durations and enums, stray
     * arguments). A vector that parses is never executed: its values are recorded instead.
     */
    static final List<String> VECTORS = List.of(
            "",
            "--bogus",
            "nonsense",
            "-h",
            "inspect",
            "inspect f.efi",
            "inspect f.efi --json --profile 3 --no-emulation --trust a.pem --trust b.pem",
            "inspect f.efi --profile x",
            "inspect a b",
            "eventlog",
            "eventlog show",
            "eventlog show log.bin",
            "eventlog show - --lenient --format yaml",
            "eventlog show log.bin --format html --pcrs p.yaml",
            "eventlog show log.bin --format html --tpm swtpm:port=1",
            "eventlog show log.bin --json",
            "eventlog show log.bin --format xml",
            "eventlog show log.bin --pcrs p.yaml --tpm t",
            "eventlog show log.bin --pcrs",
            "eventlog show a b",
            "eventlog replay log.bin --bank sha1,sha256 --bank sha384 --all --json",
            "eventlog replay",
            "eventlog verify log.bin --pcrs p.yaml --json",
            "eventlog verify log.bin --tpm swtpm:port=1 --journal j.json",
            "eventlog verify log.bin",
            "eventlog verify log.bin --pcrs p --tpm t",
            "eventlog findings --json --lenient log.bin",
            "eventlog recover --journal j --tpm t",
            "eventlog recover --journal j --tpm t --complete --eventlog e.bin --lock-wait 500ms --json",
            "eventlog recover --journal j --tpm t --lock-wait 5",
            "eventlog recover --tpm t",
            "eventlog mark-uncommitted",
            "eventlog mark-uncommitted --run-dir /x --tpm t --json",
            "eventlog nonsense",
            "tpm",
            "tpm info",
            "tpm info --tpm swtpm:port=1 --json",
            "tpm pcrs",
            "tpm pcrs 0,4,7 --bank sha1,sha256 --tpm t --json --stats",
            "tpm pcrs --bank",
            "emulate p.efi",
            "emulate p.efi --esp e --disk d.img --boot-path \\EFI\\x.efi --secure-boot --initrd i --append \"a b\" "
                    + "--full-emulation --rng 7 --trace --verbose --json --out o --time-budget 2m --ram 512 --ram-layout 0-1000",
            "emulate p.efi --rng host",
            "emulate p.efi --time-budget 0s",
            "emulate p.efi --time-budget 10",
            "emulate p.efi --ram lots",
            "emulate",
            "predict --policy p.yaml u.efi",
            "predict --policy p.yaml u.efi --tpm t --json --esp e --disk d --boot-path b --firmware-log f --time-budget 1h",
            "predict --policy p.yaml u.efi --pcrs s.json",
            "predict --policy p.yaml u.efi --pcrs s.json --tpm t",
            "predict u.efi",
            "predict --policy p.yaml",
            "predict --policy p.yaml u.efi --time-budget 3x",
            "boot u.efi --tpm t",
            "boot u.efi --tpm t --eventlog-out e.bin --state-dir s --no-load --lock-wait 30s --tolerate-divergent 1,2 "
                    + "--tolerate-divergent 3 --exec --json --policy p.yaml --load-options \"console=ttyS0\"",
            "boot u.efi --tpm t --crash",
            "boot u.efi --tpm t --at-shutdown --full-emulation",
            "boot u.efi --tpm t --tolerate-divergent x",
            "boot u.efi",
            "boot --tpm t",
            "boot u.efi --tpm t --lock-wait",
            "commit-pending",
            "commit-pending d --tpm t --json",
            "exec",
            "exec --pending-dir p --state-dir s",
            "unload --crash",
            "unload x",
            "report",
            "report d -o r.html --pcrs p.yaml",
            "report d --output r.html --tpm t",
            "report d --tpm t --pcrs p",
            "gen-manpage --bogus");

    @Test
    void helpOfEveryCommandIsTheSnapshot() throws IOException {
        StringBuilder all = new StringBuilder();
        for (String c : COMMANDS) {
            List<String> args = new ArrayList<>(words(c));
            args.add("--help");
            all.append("=== ").append(String.join(" ", args)).append('\n').append(run(args.toArray(String[]::new)));
        }
        check("help.txt", all.toString());
    }

    @Test
    void completionScriptIsTheSnapshot() throws IOException {
        StringWriter out = new StringWriter();
        assertEquals(0, Main.execute(new String[]{"generate-completion"}, new PrintWriter(out), new PrintWriter(new StringWriter())));
        check("completion.bash", out.toString());
    }

    @Test
    void manPagesAreTheSnapshot(@TempDir Path dir) throws IOException {
        StringWriter err = new StringWriter();
        assertEquals(0, Main.execute(new String[]{"gen-manpage", "-d", dir.toString()}, new PrintWriter(new StringWriter()),
                new PrintWriter(err)), err.toString());
        StringBuilder all = new StringBuilder();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted(Comparator.comparing(Path::toString)).toList()) {
                // the generation date and the build's version are not the model's
                String text = Files.readString(p).replaceAll("(?m)^:revdate: .*$", ":revdate: DATE")
                        .replace(Main.version(), "VERSION");
                all.append("=== ").append(p.getFileName()).append('\n').append(text);
            }
        }
        check("manpages.adoc", all.toString());
    }

    @Test
    void argumentVectorsParseIntoTheSnapshotValues() throws Exception {
        StringBuilder all = new StringBuilder();
        for (String v : VECTORS) {
            String[] args = words(v).toArray(String[]::new);
            all.append("=== ").append(v).append('\n').append(parse(args));
        }
        check("parse.txt", all.toString());
    }

    /**
     * Models are built without inspecting the classes ({@link CliModel}), so a picocli annotation added to a command
     * would be ignored without a word: none may be there, on a command of the tree or on a shared option group.
     */
    @Test
    void noCommandCarriesPicocliAnnotations() {
        List<Class<?>> classes = new ArrayList<>(List.of(PayloadOptions.class, EventlogInput.class, ExpectedPcrs.class,
                ExpectedPcrs.Source.class, TpmCommand.TctiOption.class, PredictCommand.PcrOrigin.class,
                EventlogVerifyCommand.Source.class));
        List<CommandLine> todo = new ArrayList<>(List.of(Main.commandLine(Services.DEFAULT)));
        while (!todo.isEmpty()) {
            CommandLine c = todo.remove(0);
            todo.addAll(c.getSubcommands().values());
            Object o = c.getCommandSpec().userObject();
            if (o != null && o.getClass().getPackageName().equals(CliModelSnapshotTest.class.getPackageName())) {
                classes.add(o.getClass());
            }
        }
        // the root, its commands but picocli's two generators, eventlog's six and tpm's two
        int commands = 1 + Main.SUBCOMMANDS.size() - 2 + EventlogCommand.SUBCOMMANDS.size() + 2;
        assertEquals(7 + commands, classes.size(), "our commands: " + classes);
        List<String> annotated = new ArrayList<>();
        for (Class<?> k : classes) {
            List<java.lang.reflect.AnnotatedElement> elements = new ArrayList<>(List.of(k));
            elements.addAll(List.of(k.getDeclaredFields()));
            elements.addAll(List.of(k.getDeclaredMethods()));
            for (java.lang.reflect.AnnotatedElement e : elements) {
                for (java.lang.annotation.Annotation a : e.getAnnotations()) {
                    if (a.annotationType().getName().startsWith("picocli.")) annotated.add(e + ": " + a);
                }
            }
        }
        assertEquals(List.of(), annotated);
    }

    /** The leaf command's field values after a successful parse, else the exit code and the error output of a run. */
    static String parse(String[] args) throws IllegalAccessException {
        CommandLine cl = Main.commandLine(Services.DEFAULT, args);
        try {
            CommandLine.ParseResult r = cl.parseArgs(args);
            while (r.hasSubcommand()) r = r.subcommand();
            if (r.isUsageHelpRequested() || r.isVersionHelpRequested()) return "help requested\n";
            StringBuilder sb = new StringBuilder();
            fields(r.commandSpec().userObject(), "", sb);
            return sb.toString();
        } catch (CommandLine.ParameterException e) {
            return "exit " + Main.execute(args, new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()))
                    + "\n" + run(args);
        }
    }

    /** The values of {@code o}'s instance fields, and of its fields' fields when they are of this package. */
    private static void fields(Object o, String prefix, StringBuilder sb) throws IllegalAccessException {
        if (o == null) return;
        Field[] fs = o.getClass().getDeclaredFields();
        Arrays.sort(fs, Comparator.comparing(Field::getName));
        for (Field f : fs) {
            if (Modifier.isStatic(f.getModifiers()) || f.isSynthetic()) continue;
            Class<?> t = f.getType();
            if (t == Services.class || t.getName().startsWith("picocli.")) continue;
            f.setAccessible(true);
            Object v = f.get(o);
            if (v != null && t.getPackageName().equals(CliModelSnapshotTest.class.getPackageName()) && !t.isEnum()) {
                fields(v, prefix + f.getName() + ".", sb);
            } else {
                sb.append(prefix).append(f.getName()).append(" = ").append(v).append('\n');
            }
        }
    }

    /** What a run prints (stdout, then stderr), with its exit code. */
    private static String run(String[] args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        return "rc " + rc + "\n" + out + (err.toString().isEmpty() ? "" : "--- stderr\n" + err);
    }

    /** Shell-like words: spaces separate, double quotes group. */
    static List<String> words(String line) {
        List<String> w = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char ch : line.toCharArray()) {
            if (ch == '"') {
                quoted = !quoted;
                any = true;
            } else if (ch == ' ' && !quoted) {
                if (any) w.add(cur.toString());
                cur.setLength(0);
                any = false;
            } else {
                cur.append(ch);
                any = true;
            }
        }
        if (any) w.add(cur.toString());
        return w;
    }

    private static void check(String name, String actual) throws IOException {
        String write = System.getProperty("cli.snapshots.write");
        if (write != null) {
            Files.createDirectories(Path.of(write));
            Files.writeString(Path.of(write, name), actual);
            return;
        }
        try (InputStream in = CliModelSnapshotTest.class.getResourceAsStream(DIR + name)) {
            assertNotNull(in, DIR + name);
            assertEquals(new String(in.readAllBytes(), StandardCharsets.UTF_8), actual, name);
        }
    }
}
