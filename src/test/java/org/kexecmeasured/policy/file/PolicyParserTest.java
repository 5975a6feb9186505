package org.kexecmeasured.policy.file;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The policy file: the examples in policy/ parse; bad files are refused with the file,
 * the line and the key; the policy's identity is the SHA-256 of its bytes (sha256sum as oracle);
 * and the JSON Schema in policy/ agrees with the parser (Python's jsonschema, run live, as oracle).
 */
class PolicyParserTest {

    static final Path EXAMPLES = Path.of("policy");
    static final Path SCHEMA = Path.of("policy", "kexec-measured-policy.schema.json");

    @TempDir
    Path dir;

    PolicyFile parse(String yaml) {
        return PolicyParser.parse(dir.resolve("p.yaml"), yaml.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void examplesParse() throws Exception {
        PolicyFile minimal = PolicyParser.read(EXAMPLES.resolve("minimal.yaml"));
        assertEquals(List.of(4, 5, 9, 11, 12, 13), new ArrayList<>(minimal.measurement().extendSet()));
        assertEquals(List.of(10, 11), new ArrayList<>(minimal.measurement().tolerateDivergent()));
        assertNull(minimal.measurement().banks(), "active");
        assertNull(minimal.reauthorize());
        assertEquals(PolicyParser.DEFAULT_PHASES, minimal.measurement().nextBootPhases());

        PolicyFile disk = PolicyParser.read(EXAMPLES.resolve("disk-unlock-reauthorized.yaml"));
        assertTrue(disk.payload().requireSignature());
        assertEquals(List.of("root"), disk.reauthorize().secrets());
        assertEquals(List.of(HashAlg.SHA256), disk.reauthorize().banks());
        assertEquals(PolicyFile.Intent.REACHABLE, disk.secrets().get(0).mustRemain());

        PolicyFile strict = PolicyParser.read(EXAMPLES.resolve("strict.yaml"));
        assertEquals(4, strict.secrets().size());
        PolicyFile.Tpm2NvSource nv = (PolicyFile.Tpm2NvSource) strict.secrets().get(2).source();
        assertEquals(0x01800010, nv.index());
        PolicyFile.Luks2Source data = (PolicyFile.Luks2Source) strict.secrets().get(1).source();
        assertEquals(0, data.token());
        assertEquals(EXAMPLES.resolve("ca/uki-signing-ca.pem").toAbsolutePath().normalize(), strict.payload().trustedCertificates().get(0),
                "relative paths resolve against the policy's directory");
        assertEquals(List.of("enter-initrd", "enter-initrd:leave-initrd"), strict.measurement().nextBootPhases());
        assertEquals(PolicyFile.Action.DENY, strict.decision().unreachable());
        assertEquals(1, strict.payload().minimumSbat().get("linux"));
        assertEquals(List.of(4, 5, 7, 8, 9, 11, 12, 13, 14), new ArrayList<>(strict.measurement().shimMayExtend()));
        assertEquals(PolicyFile.Action.DENY, strict.decision().chainExtends());
        assertNull(minimal.measurement().shimMayExtend(), "absent: the chain's PCRs are not restricted");
        assertEquals(PolicyFile.Action.WARN, parse("version: 1\ndecision: {chain-extends: warn}\n").decision().chainExtends());
        assertEquals(List.of(), new ArrayList<>(parse("version: 1\nmeasurement: {shim-may-extend: []}\n").measurement().shimMayExtend()),
                "an empty set: the chain may measure nothing");
    }

    @Test
    void identityIsTheSha256OfTheFileBytes() throws Exception {
        Path f = EXAMPLES.resolve("strict.yaml");
        Process p = new ProcessBuilder("sha256sum", f.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "sha256sum (coreutils) failed");
        assertEquals(out.substring(0, 64), PolicyParser.read(f).id());
    }

    static Stream<Arguments> badPolicies() {
        return Stream.of(
                Arguments.of("version: 1\nfoo: 1\n", ":2: foo: unknown key"),
                // the same words at every run (the key set's iteration order differs from one JVM to the next)
                Arguments.of("version: 1\nfoo: 1\n",
                        ":2: foo: unknown key (allowed here: decision, measurement, payload, reauthorize, secrets, signatures, version)"),
                Arguments.of("version: 1\nmeasurement:\n  extnd: [4]\n", ":3: measurement.extnd: unknown key"),
                Arguments.of("version: 1\npayload:\n  require-signature: 'true'\n", ":3: payload.require-signature: expected true or false, got a string"),
                Arguments.of("version: 1\nmeasurement:\n  extend: [4, 09]\n", ":3: measurement.extend[1]: '09' has a leading zero"),
                Arguments.of("version: 1\nsecrets:\n  - {name: no, must-remain: any, source: {luks2: a.img}}\n", ":3: secrets[0].name: expected a string, got a boolean"),
                Arguments.of("version: 1\nmeasurement:\n  extend: [4, 24]\n  boundary: [4, 24]\n", ":3: measurement.extend[1]: PCR 24 does not exist (0..23)"),
                Arguments.of("version: 1\nmeasurement:\n  boundary: [4, '5']\n", ":3: measurement.boundary[1]: expected a PCR number 0..23, got a string"),
                Arguments.of("version: 1\nmeasurement:\n  extend: [16]\n  boundary: [16]\n", ":3: measurement.extend: PCRs [16] can be reset by the running system"),
                Arguments.of("version: 1\nmeasurement:\n  extend: [4, 7]\n  boundary: [4]\n", ":4: measurement.boundary: every PCR of the extend set needs a boundary record first: add [7]"),
                Arguments.of("version: 1\nmeasurement:\n  banks: [sha256, md5]\n", ":3: measurement.banks[1]: unknown bank 'md5'"),
                Arguments.of("version: 1\nmeasurement:\n  banks: all\n", ":3: measurement.banks: expected one of active, got 'all'"),
                Arguments.of("version: 2\n", ":1: version: this tool reads policy version 1"),
                Arguments.of("payload: {}\n", ":1: key 'version' is missing"),
                Arguments.of("version: 1\nsecrets:\n  - name: a\n    must-remain: reachable\n    source: {luks2: a.img}\n  - name: a\n    must-remain: any\n    source: {luks2: b.img}\n",
                        ":6: secrets[1].name: secret 'a' is declared twice"),
                Arguments.of("version: 1\nsecrets:\n  - name: a\n    source: {luks2: a.img}\n", ":3: secrets[0]: key 'must-remain' is missing"),
                Arguments.of("version: 1\nsecrets:\n  - name: a\n    must-remain: maybe\n    source: {luks2: a.img}\n",
                        ":4: secrets[0].must-remain: expected one of reachable, unreachable, any, got 'maybe'"),
                Arguments.of("version: 1\nsecrets:\n  - name: a\n    must-remain: any\n    source: {luks2: a.img, clevis-jwe: b.jwe}\n",
                        ":5: secrets[0].source: exactly one of"),
                Arguments.of("version: 1\nsecrets:\n  - name: a\n    must-remain: any\n    source:\n      tpm2-object: {public: a.pub, private: a.priv, pcrs: 'sha256:7,99'}\n",
                        ":6: secrets[0].source.tpm2-object.pcrs: PCR 99 does not exist"),
                Arguments.of("version: 1\nsecrets:\n  - name: a\n    must-remain: any\n    source:\n      tpm2-handle: {handle: 0x01000000, pcrs: 'sha256:7'}\n",
                        ":6: secrets[0].source.tpm2-handle.handle: 0x01000000 is out of range"),
                Arguments.of("version: 1\nsecrets:\n  - name: a\n    must-remain: any\n    source: {luks2: {device: a.img, token: 32}}\n",
                        ":5: secrets[0].source.luks2.token: 32 is out of range 0..31"),
                Arguments.of("version: 1\nreauthorize:\n  signing-key: k.pem\n  secrets: [nope]\n", ":4: reauthorize.secrets[0]: no secret named 'nope'"),
                Arguments.of("version: 1\ndecision:\n  reachable: allow\n", ":3: decision.reachable: expected one of deny, warn, got 'allow'"),
                Arguments.of("version: 1\ndecision:\n  chain-extends: allow\n", ":3: decision.chain-extends: expected one of deny, warn, got 'allow'"),
                Arguments.of("version: 1\nmeasurement:\n  shim-may-extend: [4, 24]\n", ":3: measurement.shim-may-extend[1]: PCR 24 does not exist"),
                Arguments.of("version: 1\npayload:\n  require-signature: true\n", ":3: payload.require-signature: require-signature needs trusted-certificates"),
                Arguments.of("version: 1\npayload:\n  denied-digests: [abc]\n", ":3: payload.denied-digests[0]: expected a SHA-256 Authenticode digest"),
                Arguments.of("version: 1\nmeasurement:\n  next-boot-phases: ['enter initrd']\n", ":3: measurement.next-boot-phases[0]: 'enter initrd' is not a phase word"),
                Arguments.of("version: 1\nversion: 1\n", ":2: version: duplicate key"),
                Arguments.of("version: 1\nsecrets: [\n", ":3: not valid YAML"),
                Arguments.of("", ":1: the policy file is empty"),
                Arguments.of("- version: 1\n", ":1: a policy file is a YAML mapping"));
    }

    @ParameterizedTest
    @MethodSource("badPolicies")
    void badPolicyNamesFileLineAndKey(String yaml, String expected) {
        BadInputException e = assertThrows(BadInputException.class, () -> parse(yaml));
        String m = e.getMessage();
        assertTrue(m.startsWith(dir.resolve("p.yaml").toString() + ":"), m);
        assertTrue(m.contains(expected), "expected «" + expected + "» in «" + m + "»");
        assertFalse(m.contains("\n"), "one line: " + m);
    }

    @Test
    void notUtf8AndTooLargeAreRefusedBeforeParsing() throws Exception {
        BadInputException e = assertThrows(BadInputException.class,
                () -> PolicyParser.parse(dir.resolve("p.yaml"), new byte[]{'v', (byte) 0xff, (byte) 0xfe}));
        assertTrue(e.getMessage().endsWith("p.yaml: not UTF-8 text"), e.getMessage());
        Path big = dir.resolve("big.yaml");
        Files.write(big, new byte[(int) PolicyParser.MAX_BYTES + 1]);
        e = assertThrows(BadInputException.class, () -> PolicyParser.read(big));
        assertTrue(e.getMessage().contains("larger than " + PolicyParser.MAX_BYTES), e.getMessage());
        e = assertThrows(BadInputException.class, () -> PolicyParser.read(dir.resolve("absent.yaml")));
        assertTrue(e.getMessage().endsWith("absent.yaml: no such policy file"), e.getMessage());
    }

    /** YAML alias bombs do not expand: aliases of collections are refused. */
    @Test
    void aliasesAreRefused() {
        String bomb = "version: 1\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n";
        BadInputException e = assertThrows(BadInputException.class, () -> parse(bomb));
        assertTrue(e.getMessage().contains("not valid YAML"), e.getMessage());
    }

    // ------------------------------------------------------------------ schema agreement

    /** Structural documents: the schema and the parser must agree on each. */
    static List<String> structural() {
        List<String> l = new ArrayList<>();
        for (Arguments a : badPolicies().toList()) {
            String y = (String) a.get()[0];
            // documents whose refusal is a rule the schema cannot express, or YAML-level errors
            if (y.contains("extend: [4, 7]") || y.contains("declared twice") || y.contains("nope") || y.isEmpty()
                    || y.contains("secrets: [\n") || y.contains("version: 1\nversion: 1") || y.contains("require-signature: true")
                    || y.contains("09]")
                    || y.contains("name: a\n    must-remain: reachable\n    source: {luks2: a.img}\n  - name: a")) {
                continue;
            }
            l.add(y);
        }
        l.add("version: 1\n");
        l.add("version: 1\npayload:\n  require-signature: no\n");
        l.add("version: 1\nmeasurement: {banks: active, extend: [], boundary: [4]}\n");
        l.add("version: 1\nsecrets:\n  - {name: n, must-remain: any, source: {tpm2-nv: {index: 0x01800001, pcrs: 'sha256:7+sha1:0-3', auth-value: true}}}\n");
        l.add("version: 1\nsignatures: [/run/systemd/tpm2-pcr-signature.json]\ndecision: {reachable: warn}\n");
        l.add("version: 1\nmeasurement: {shim-may-extend: [4, 12]}\ndecision: {chain-extends: warn}\n");
        return l;
    }

    @Test
    void schemaAndParserAgree() throws Exception {
        Path py = Path.of("/usr/bin/python3");
        if (!Files.isExecutable(py)) fail("/usr/bin/python3 missing: install the Debian packages python3, python3-yaml, python3-jsonschema");
        List<Path> docs = new ArrayList<>();
        try (Stream<Path> s = Files.list(EXAMPLES)) {
            docs.addAll(s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList());
        }
        int i = 0;
        for (String y : structural()) {
            Path f = dir.resolve("doc" + i++ + ".yaml");
            Files.writeString(f, y);
            docs.add(f);
        }
        // the oracle: PyYAML reads each document, jsonschema (draft 2020-12) validates it
        String script = String.join("\n",
                "import json, sys, yaml",
                "from jsonschema import Draft202012Validator",
                "schema = json.load(open(sys.argv[1]))",
                "Draft202012Validator.check_schema(schema)",
                "v = Draft202012Validator(schema)",
                "for f in sys.argv[2:]:",
                "    doc = yaml.safe_load(open(f))",
                "    errs = list(v.iter_errors(doc)) if isinstance(doc, dict) else ['not a mapping']",
                "    print(('valid ' if not errs else 'invalid ') + f)");
        List<String> cmd = new ArrayList<>(List.of(py.toString(), "-c", script, SCHEMA.toString()));
        docs.forEach(d -> cmd.add(d.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), "python3 + jsonschema + yaml (Debian python3-jsonschema, python3-yaml):\n" + out);
        int checked = 0;
        for (Path d : docs) {
            boolean schemaValid = out.lines().anyMatch(l -> l.equals("valid " + d));
            assertTrue(schemaValid || out.lines().anyMatch(l -> l.equals("invalid " + d)), "no verdict for " + d + ":\n" + out);
            boolean ours;
            String why = "";
            try {
                PolicyParser.read(d);
                ours = true;
            } catch (BadInputException e) {
                ours = false;
                why = e.getMessage();
            }
            assertEquals(schemaValid, ours, d + " (" + Files.readString(d).replace("\n", "⏎") + "): schema says "
                    + (schemaValid ? "valid" : "invalid") + ", the parser " + (ours ? "accepts" : "refuses: " + why));
            checked++;
        }
        assertTrue(checked >= 20, "checked " + checked);
    }

    /** Rules only the tool checks: the schema accepts these, the parser refuses them with the reason. */
    @Test
    void rulesBeyondTheSchema() {
        assertThrows(BadInputException.class, () -> parse("version: 1\nmeasurement:\n  extend: [4, 7]\n  boundary: [4]\n"));
        assertThrows(BadInputException.class, () -> parse("version: 1\npayload:\n  require-signature: true\n"));
        assertThrows(BadInputException.class, () -> parse("version: 1\nreauthorize:\n  signing-key: k.pem\n  secrets: [nope]\n"));
    }
}
