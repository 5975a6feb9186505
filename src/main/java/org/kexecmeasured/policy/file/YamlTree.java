package org.kexecmeasured.policy.file;

import org.kexecmeasured.util.BadInputException;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.representer.Representer;
import org.yaml.snakeyaml.resolver.Resolver;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A YAML document as SnakeYAML's node tree, walked with the position of every node kept, so each
 * error names the file, the line and the key path ({@code secrets[1].source.luks2}). Nothing is
 * constructed as Java objects by SnakeYAML (no tags, no implicit typing): a plain scalar is typed
 * here as YAML 1.1 (the YAML of SnakeYAML and PyYAML) reads it — null, booleans (true/false,
 * yes/no, on/off), decimal or 0x integers, floats — so a value YAML reads as a number or a boolean
 * is never silently taken as text, and vice versa. Integers with a leading zero (YAML 1.1 octal)
 * are refused as ambiguous.
 */
final class YamlTree {
    /** Limits against hostile documents: aliases expand, deep nesting recurses. */
    private static final int MAX_ALIASES = 0;
    private static final int MAX_DEPTH = 20;
    private static final int MAX_CODE_POINTS = 1 << 20;

    private static final Pattern INT = Pattern.compile("[-+]?(0|[1-9][0-9]*)|0x[0-9a-fA-F]+");
    private static final Pattern OCTAL = Pattern.compile("[-+]?0[0-9_]+");
    private static final Pattern FLOAT = Pattern.compile("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
    private static final Set<String> NULLS = Set.of("", "~", "null", "Null", "NULL");
    /** YAML 1.1 booleans, as SnakeYAML's and PyYAML's default resolvers read them (yes/no/on/off too). */
    private static final Set<String> TRUES = Set.of("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON");
    private static final Set<String> FALSES = Set.of("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF");

    private final String file;

    /** A node with its key path. */
    record At(YamlTree tree, Node node, String path) {
        int line() {
            Mark m = node.getStartMark();
            return m == null ? 0 : m.getLine() + 1;
        }

        BadInputException error(String message) {
            return new BadInputException(tree.file + ":" + line() + ": " + (path.isEmpty() ? "" : path + ": ") + message);
        }

        /** The YAML type a plain scalar has (str for quoted or block scalars). */
        String kind() {
            if (node instanceof MappingNode) return "a mapping";
            if (node instanceof SequenceNode) return "a list";
            ScalarNode s = (ScalarNode) node;
            if (s.getScalarStyle() != DumperOptions.ScalarStyle.PLAIN) return "a string";
            String v = s.getValue();
            if (NULLS.contains(v)) return "null";
            if (TRUES.contains(v) || FALSES.contains(v)) return "a boolean";
            if (INT.matcher(v).matches()) return "an integer";
            if (OCTAL.matcher(v).matches()) return "an octal integer";
            if (FLOAT.matcher(v).matches()) return "a number";
            return "a string";
        }

        /** A mapping whose keys are all in {@code allowed}; duplicate and unknown keys are errors. */
        Map<String, At> mapping(Set<String> allowed) {
            if (!(node instanceof MappingNode m)) throw error("expected a mapping, got " + kind());
            Map<String, At> out = new LinkedHashMap<>();
            for (NodeTuple t : m.getValue()) {
                At k = new At(tree, t.getKeyNode(), path);
                if (!(t.getKeyNode() instanceof ScalarNode ks) || !k.kind().equals("a string")) {
                    throw k.error("keys must be strings, got " + k.kind());
                }
                String key = ks.getValue();
                String p = path.isEmpty() ? key : path + "." + key;
                if (!allowed.contains(key)) {
                    throw new At(tree, t.getKeyNode(), p).error("unknown key (allowed here: "
                            + String.join(", ", new java.util.TreeSet<>(allowed)) + ")"); // sorted: Set.of's order varies per JVM
                }
                if (out.containsKey(key)) throw new At(tree, t.getKeyNode(), p).error("duplicate key");
                out.put(key, new At(tree, t.getValueNode(), p));
            }
            return out;
        }

        /** A mapping with arbitrary string keys (e.g. SBAT component → generation). */
        Map<String, At> anyMapping() {
            if (!(node instanceof MappingNode m)) throw error("expected a mapping, got " + kind());
            Map<String, At> out = new LinkedHashMap<>();
            for (NodeTuple t : m.getValue()) {
                At k = new At(tree, t.getKeyNode(), path);
                if (!(t.getKeyNode() instanceof ScalarNode ks) || !k.kind().equals("a string")) {
                    throw k.error("keys must be strings, got " + k.kind());
                }
                String p = path + "." + ks.getValue();
                if (out.containsKey(ks.getValue())) throw new At(tree, t.getKeyNode(), p).error("duplicate key");
                out.put(ks.getValue(), new At(tree, t.getValueNode(), p));
            }
            return out;
        }

        List<At> list() {
            if (!(node instanceof SequenceNode s)) throw error("expected a list, got " + kind());
            List<At> out = new ArrayList<>();
            int i = 0;
            for (Node n : s.getValue()) out.add(new At(tree, n, path + "[" + i++ + "]"));
            return out;
        }

        boolean isList() {
            return node instanceof SequenceNode;
        }

        boolean isMapping() {
            return node instanceof MappingNode;
        }

        String string() {
            if (!kind().equals("a string")) throw error("expected a string, got " + kind());
            String v = ((ScalarNode) node).getValue();
            if (v.isEmpty()) throw error("must not be empty");
            return v;
        }

        boolean bool() {
            if (!kind().equals("a boolean")) throw error("expected true or false, got " + kind());
            return TRUES.contains(((ScalarNode) node).getValue());
        }

        long integer(long min, long max) {
            if (kind().equals("an octal integer")) {
                throw error("'" + ((ScalarNode) node).getValue() + "' has a leading zero, which YAML reads as octal: write it without");
            }
            if (!kind().equals("an integer")) throw error("expected an integer, got " + kind());
            String v = ((ScalarNode) node).getValue();
            long x;
            try {
                x = v.startsWith("0x") ? Long.parseLong(v.substring(2), 16) : Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw error("integer " + v + " is too large");
            }
            if (x < min || x > max) throw error(v + " is out of range " + min + ".." + max);
            return x;
        }

        /** One of the given words (lower case). */
        String word(List<String> words) {
            String v = kind().equals("a string") ? ((ScalarNode) node).getValue() : null;
            if (v == null || !words.contains(v)) {
                throw error("expected one of " + String.join(", ", words) + ", got "
                        + (v == null ? kind() : "'" + v + "'"));
            }
            return v;
        }
    }

    private YamlTree(String file) {
        this.file = file;
    }

    /** Parses one YAML document; syntax errors name file and line. */
    static At parse(String file, String text) {
        YamlTree t = new YamlTree(file);
        LoaderOptions lo = new LoaderOptions();
        lo.setMaxAliasesForCollections(MAX_ALIASES);
        lo.setAllowRecursiveKeys(false);
        lo.setNestingDepthLimit(MAX_DEPTH);
        lo.setCodePointLimit(MAX_CODE_POINTS);
        lo.setAllowDuplicateKeys(false);
        Resolver plain = new Resolver() {
            @Override
            protected void addImplicitResolvers() {
                // every scalar stays a string node; At.kind() types plain scalars
            }
        };
        DumperOptions dop = new DumperOptions();
        Yaml yaml = new Yaml(new SafeConstructor(lo), new Representer(dop), dop, lo, plain);
        Node root;
        try {
            root = yaml.compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            int line = m == null ? 0 : m.getLine() + 1;
            throw new BadInputException(file + ":" + line + ": not valid YAML: "
                    + oneLine(e.getProblem() != null ? e.getProblem() : e.getMessage()));
        } catch (YAMLException e) {
            throw new BadInputException(file + ": not valid YAML: " + oneLine(e.getMessage()));
        }
        if (root == null) throw new BadInputException(file + ":1: the policy file is empty");
        if (!(root instanceof MappingNode)) {
            throw new At(t, root, "").error("a policy file is a YAML mapping (version: 1, payload:, measurement:, secrets: …)");
        }
        return new At(t, root, "");
    }

    private static String oneLine(String s) {
        if (s == null) return "";
        return s.replace('\n', ' ').strip();
    }
}
