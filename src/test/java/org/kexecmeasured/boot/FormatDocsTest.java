package org.kexecmeasured.boot;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 9: the formats in {@code tcg2/} describe the typed records as they are. The oracle is the
 * records themselves (their components, which Jackson writes, and their {@code @JsonPropertyOrder}):
 * every key a record writes, nested records included, is named in its section of the document, the
 * keys a table lists at the top level are exactly the record's and in its order, and the format
 * string the document names is the one the code writes. A key added, renamed or dropped on one side only fails.
 */
class FormatDocsTest {

    static final Path TCG2 = Path.of("tcg2");

    /** The text of {@code file} from the heading line containing {@code heading} to the next heading of that level or higher. */
    static String section(String file, String heading) throws IOException {
        List<String> lines = Files.readAllLines(TCG2.resolve(file));
        StringBuilder b = new StringBuilder();
        int level = -1;
        for (String l : lines) {
            if (level < 0) {
                if (l.startsWith("#") && l.contains(heading)) level = l.indexOf(' ');
                continue;
            }
            if (l.startsWith("#") && l.indexOf(' ') <= level) break;
            b.append(l).append('\n');
        }
        assertTrue(level > 0, file + ": no heading containing '" + heading + "'");
        return b.toString();
    }

    /** The backticked names in the first column of the section's table, in order ("`a`, `b`" cells give both). */
    static List<String> tableKeys(String section) {
        List<String> keys = new ArrayList<>();
        Pattern tick = Pattern.compile("`([A-Za-z0-9]+)`");
        for (String l : section.split("\n")) {
            if (!l.startsWith("| `")) continue;
            String cell = l.substring(1, l.indexOf('|', 1));
            Matcher m = tick.matcher(cell);
            while (m.find()) keys.add(m.group(1));
        }
        return keys;
    }

    /** The JSON keys of a record in the order Jackson writes them. */
    static List<String> keys(Class<?> record) {
        JsonPropertyOrder order = record.getAnnotation(JsonPropertyOrder.class);
        List<String> names = new ArrayList<>();
        for (RecordComponent c : record.getRecordComponents()) names.add(c.getName());
        if (order == null) return names;
        List<String> ordered = new ArrayList<>(List.of(order.value()));
        assertTrue(ordered.containsAll(names), record.getSimpleName() + ": @JsonPropertyOrder names every component");
        ordered.retainAll(names);
        return ordered;
    }

    /** The record and every record among its components' types (lists and maps of records included). */
    static Set<Class<?>> nested(Class<?> record) {
        Set<Class<?>> out = new LinkedHashSet<>();
        collect(record, out);
        return out;
    }

    private static void collect(Type t, Set<Class<?>> out) {
        if (t instanceof Class<?> c && c.isRecord() && c.getName().startsWith("org.kexecmeasured") && out.add(c)) {
            for (RecordComponent rc : c.getRecordComponents()) collect(rc.getGenericType(), out);
        } else if (t instanceof ParameterizedType p) {
            for (Type a : p.getActualTypeArguments()) collect(a, out);
        }
    }

    private static void assertDocumented(String file, String heading, Class<?> record, String format) throws IOException {
        String s = section(file, heading);
        // nested objects may be described once for the file ("as in kexec-measured-manifest/1")
        String whole = Files.readString(TCG2.resolve(file));
        assertTrue(s.contains(format) || heading.contains(format), file + " " + heading + ": does not name " + format);
        for (Class<?> c : nested(record)) {
            String where = c == record ? s : whole;
            for (String k : keys(c)) {
                assertTrue(where.contains("`" + k + "`") || where.contains("\"" + k + "\""),
                        file + " " + heading + ": " + c.getSimpleName() + "." + k + " is written but not described");
            }
        }
    }

    @Test
    void pendingJsonIsDescribedAsWritten() throws IOException {
        assertDocumented("pending.md", "## `pending.json`", PendingBoot.class, PendingBoot.FORMAT);
        assertEquals(keys(PendingBoot.class), tableKeys(section("pending.md", "## `pending.json`")), "pending.md's table");
        assertTrue(Files.readString(TCG2.resolve("pending.md")).startsWith("# ") && section("pending.md", "## `pending.json`")
                .contains(PendingBoot.FORMAT));
    }

    @Test
    void manifestsAndSideRecordAreDescribedAsWritten() throws IOException {
        assertDocumented("sidecar.md", "Manifest `manifest.json`", Manifest.class, Manifest.FORMAT);
        assertEquals(keys(Manifest.class), tableKeys(section("sidecar.md", "Manifest `manifest.json`")), "manifest table");
        assertDocumented("sidecar.md", UncommittedManifest.FORMAT, UncommittedManifest.class, UncommittedManifest.FORMAT);
        assertEquals(keys(UncommittedManifest.class), tableKeys(section("sidecar.md", UncommittedManifest.FORMAT)),
                "uncommitted manifest table");
        assertDocumented("sidecar.md", SideRecord.FORMAT, SideRecord.class, SideRecord.FORMAT);
    }

    @Test
    void journalFormat2IsDescribedAsWritten() throws IOException {
        String doc = Files.readString(TCG2.resolve("journal.md"));
        assertTrue(doc.startsWith("# The extend journal — `" + Journal.FORMAT + "`"), "journal.md names " + Journal.FORMAT);
        String lines = section("journal.md", "## Lines");
        for (Class<?> c : List.of(Journal.Header.class, Journal.Line.class)) {
            for (Class<?> n : nested(c)) {
                for (String k : keys(n)) {
                    assertTrue(lines.contains("\"" + k + "\":"), "journal.md: " + n.getSimpleName() + "." + k + " is not shown");
                }
            }
        }
        // the header's key order in the sample line is the order written
        Matcher header = Pattern.compile("\\{\"format\":[^\\n]*").matcher(lines);
        assertTrue(header.find());
        List<String> shown = new ArrayList<>();
        Matcher k = Pattern.compile("[{,]\"([a-zA-Z]+)\":").matcher(header.group());
        while (k.find()) shown.add(k.group(1));
        List<String> top = keys(Journal.Header.class);
        assertEquals(top, shown.stream().filter(top::contains).distinct().toList(), "header keys in journal.md's order");
    }
}
