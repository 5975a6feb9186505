package org.kexecmeasured.util;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link JsonOut}'s plain-value walker writes what databind writes: databind ({@link Json#MAPPER}, {@link Json#PRETTY})
 * is the oracle, run on the same values, compared byte for byte (compact and pretty bytes, pretty text).
 */
class JsonOutOracleTest {

    /** Strings that exercise the generator's escaping: controls, quotes, non-ASCII, astral code points, long. */
    static final List<String> STRINGS = List.of("", "a", "sha256", "\"quoted\" \\ back/slash", "\u0000\u0001\u0007\b\t\n\f\r\u001f\u007f",
            "é ü ß € 中文 \u2028\u2029", "😀 \uD83D\uDE00 𝄞", "</script><!-- & ' >", "x".repeat(70_000),
            "line1\nline2\r\n", "\uFEFFbom", "0x80000002");

    static final List<Object> NUMBERS = List.of(0, -1, 1, Integer.MAX_VALUE, Integer.MIN_VALUE, 0L, Long.MAX_VALUE, Long.MIN_VALUE,
            0xffffffffL, (short) -7, (byte) 5, 1.5d, -0.0d, 1e300, 3.25f, new BigInteger("123456789012345678901234567890"),
            new BigDecimal("-1.000000000000000000001"), true, false);

    @Test
    void scalarsEqualDatabinds() throws Exception {
        List<Object> all = new ArrayList<>(STRINGS);
        all.addAll(NUMBERS);
        all.add(null);
        all.add(new byte[]{0, 1, 2, (byte) 0xff, 'x'});
        for (Object v : all) same(v);
    }

    @Test
    void nestedMapsAndListsEqualDatabinds() throws Exception {
        same(Map.of());
        same(List.of());
        same(new TreeMap<>(Map.of(4, "a", 11, "b", 9, "c")));
        same(new TreeSet<>(List.of(12, 4, 11, 9)));
        same(new Object[]{1, "x", null, List.of()});
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("empty", List.of());
        m.put("emptyMap", Map.of());
        m.put("null", null);
        m.put("nested", List.of(Map.of("k", List.of(1L, "x", Map.of("k", true))), List.of(List.of())));
        m.put("numbers", NUMBERS);
        m.put("strings", STRINGS);
        same(m);
        Random r = new Random(14);
        for (int i = 0; i < 300; i++) same(random(r, 0));
    }

    @Test
    void jsonTreesEqualDatabinds() throws Exception {
        JsonNode tree = Json.MAPPER.readTree("{\"a\":[1,2.5,-3e40,12345678901234567890123,true,null,{}],\"b\":\"\\u0000é😀\","
                + "\"c\":{\"d\":[]},\"e\":9223372036854775807}");
        same(tree);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("policy", tree);
        m.put("missing", Json.MAPPER.readTree("{}").path("x").isMissingNode() ? null : "");
        same(m);
    }

    @Test
    void aValueWithoutAWriterIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> JsonOut.compact(new StringBuilder("x")));
        assertThrows(IllegalArgumentException.class, () -> JsonOut.compact(Map.of(new Object(), 1)));
    }

    /** A random tree of maps, lists and scalars (keys from the string pool too). */
    static Object random(Random r, int depth) {
        int k = r.nextInt(depth > 3 ? 2 : 4);
        switch (k) {
            case 0:
                return STRINGS.get(r.nextInt(STRINGS.size() - 1) < 8 ? r.nextInt(8) : 9) + (char) r.nextInt(0xd000);
            case 1:
                return r.nextInt(5) == 0 ? null : NUMBERS.get(r.nextInt(NUMBERS.size()));
            case 2: {
                Map<String, Object> m = new LinkedHashMap<>();
                int n = r.nextInt(5);
                for (int i = 0; i < n; i++) m.put(STRINGS.get(r.nextInt(8)) + i, random(r, depth + 1));
                return m;
            }
            default: {
                List<Object> l = new ArrayList<>();
                int n = r.nextInt(5);
                for (int i = 0; i < n; i++) l.add(random(r, depth + 1));
                return l;
            }
        }
    }

    static void same(Object v) throws Exception {
        assertArrayEquals(Json.MAPPER.writeValueAsBytes(v), JsonOut.compact(v), () -> "compact: " + preview(v));
        assertArrayEquals(Json.PRETTY.writeValueAsBytes(v), JsonOut.pretty(v), () -> "pretty: " + preview(v));
        assertEquals(Json.PRETTY.writeValueAsString(v), JsonOut.prettyString(v), () -> "pretty text: " + preview(v));
    }

    static String preview(Object v) {
        String s = v instanceof byte[] b ? Arrays.toString(b) : String.valueOf(v);
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }

    @Test
    void theOracleSeesTheEscapes() throws Exception {
        // guards the comparison itself: a control character and a quote are escaped, not copied
        assertEquals("\"\\u0000\\\"\"", new String(JsonOut.compact("\u0000\""), StandardCharsets.UTF_8));
    }
}
