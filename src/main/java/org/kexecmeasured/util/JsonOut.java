package org.kexecmeasured.util;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.TreeNode;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Map;

/**
 * The writing half of {@link Json}: every JSON a boot writes (the journal's lines, the sidecar's manifest, side
 * record and CEL-JSON, the uncommitted manifest, {@code --json}) goes through jackson-core's streaming
 * {@link JsonGenerator}, each typed record writing its own members ({@link Writable}) and plain maps, lists,
 * strings, numbers, booleans and nulls written by {@link #value}.
 *
 * <p>Why not databind ({@link Json#MAPPER}) for writing: its first use in a process costs more than all the JSON a
 * boot writes. Creating the {@code ObjectMapper} loads the JDK's locale data for its date format, and every record
 * type's first serialization builds a bean serializer by reflection and annotation introspection, on two cores the
 * hashing threads need. In a {@code boot --no-load} of a 60 MiB UKI (three banks, built-in policy; 8 interleaved
 * pairs beside cfea13f on a shared machine, load 6-7, session 8) the process's CPU went from a median 1.24 to 1.06
 * CPU-s, classes loaded from ~3330 to ~2720 (databind's 372 to none), methods compiled from ~660 to ~530. The
 * generator alone is a few dozen jackson-core classes.
 *
 * <p>The bytes are databind's exactly, and tests hold them to it with databind as the oracle: the same generator,
 * the same pretty printer ({@link DefaultPrettyPrinter}, what {@code SerializationFeature.INDENT_OUTPUT} uses),
 * each record's members in its {@code @JsonPropertyOrder} with its {@code @JsonInclude} (the annotations stay: they
 * are how the readers parse, and what the tests compare with). A JSON tree ({@link TreeNode}: a policy file's
 * decision record, which exists only when a policy file was read and databind is loaded anyway) is handed to
 * databind's tree writer.
 */
public final class JsonOut {

    /** A value that writes itself as one JSON value (a typed record of a format: its members in the format's order). */
    @FunctionalInterface
    public interface Writable {
        void writeTo(JsonGenerator g) throws IOException;
    }

    /** Plain jackson-core: the generators databind's mapper would create, without the mapper. */
    private static final JsonFactory FACTORY = new JsonFactory();

    private JsonOut() {
    }

    /** {@code v} (a {@link Writable} or anything {@link #value} writes) on one line: {@code Json.MAPPER.writeValueAsBytes}. */
    public static byte[] compact(Object v) {
        return bytes(v, false);
    }

    /** {@code v} indented: {@code Json.PRETTY.writeValueAsBytes}. */
    public static byte[] pretty(Object v) {
        return bytes(v, true);
    }

    /** {@code v} indented, as text: {@code Json.PRETTY.writeValueAsString}. */
    public static String prettyString(Object v) {
        StringWriter w = new StringWriter(256);
        try (JsonGenerator g = FACTORY.createGenerator(w)) {
            g.setPrettyPrinter(new DefaultPrettyPrinter());
            value(g, v);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    private static byte[] bytes(Object v, boolean pretty) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(pretty ? 512 : 256);
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            if (pretty) g.setPrettyPrinter(new DefaultPrettyPrinter());
            value(g, v);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Writes one value as databind writes it by default: null, a {@link Writable}, a string, a boolean, a number
     * (Integer, Long, Short, Byte, Double, Float, BigInteger, BigDecimal), a map (string or integer keys, in its
     * iteration order, null values written), an iterable or an array (in order), a byte array (base64) or a JSON
     * tree. Anything else is a programming error ({@link IllegalArgumentException}): it would need a record writer.
     */
    public static void value(JsonGenerator g, Object v) throws IOException {
        if (v == null) {
            g.writeNull();
        } else if (v instanceof String s) {
            g.writeString(s);
        } else if (v instanceof Writable w) {
            w.writeTo(g);
        } else if (v instanceof Integer i) {
            g.writeNumber(i);
        } else if (v instanceof Long l) {
            g.writeNumber(l);
        } else if (v instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (v instanceof TreeNode t) {
            // only a policy file's decision record (databind read that file already); before Iterable: a JsonNode is one
            Json.MAPPER.writeTree(g, t);
        } else if (v instanceof Map<?, ?> m) {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                g.writeFieldName(key(e.getKey()));
                value(g, e.getValue());
            }
            g.writeEndObject();
        } else if (v instanceof Iterable<?> it) {
            g.writeStartArray();
            for (Object o : it) value(g, o);
            g.writeEndArray();
        } else if (v instanceof Object[] a) {
            g.writeStartArray();
            for (Object o : a) value(g, o);
            g.writeEndArray();
        } else if (v instanceof byte[] b) {
            g.writeBinary(b);
        } else if (v instanceof Short s) {
            g.writeNumber(s);
        } else if (v instanceof Byte b) {
            g.writeNumber(b);
        } else if (v instanceof Double d) {
            g.writeNumber(d);
        } else if (v instanceof Float f) {
            g.writeNumber(f);
        } else if (v instanceof BigInteger b) {
            g.writeNumber(b);
        } else if (v instanceof BigDecimal b) {
            g.writeNumber(b);
        } else {
            throw new IllegalArgumentException("no JSON writer for " + v.getClass().getName());
        }
    }

    private static String key(Object k) {
        if (k instanceof String s) return s;
        if (k instanceof Integer || k instanceof Long) return k.toString();
        throw new IllegalArgumentException("no JSON key writer for " + (k == null ? "null" : k.getClass().getName()));
    }

    /** {@code "name" : v}, a string member written even when null. */
    public static void field(JsonGenerator g, String name, String v) throws IOException {
        g.writeFieldName(name);
        if (v == null) g.writeNull();
        else g.writeString(v);
    }

    /** {@code "name" : v}, any value {@link #value} writes, written even when null. */
    public static void field(JsonGenerator g, String name, Object v) throws IOException {
        g.writeFieldName(name);
        value(g, v);
    }

    /** {@code "name" : v}, left out when null (a member of a {@code @JsonInclude(NON_NULL)} record). */
    public static void optional(JsonGenerator g, String name, Object v) throws IOException {
        if (v != null) field(g, name, v);
    }
}
