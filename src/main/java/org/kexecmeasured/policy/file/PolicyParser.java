package org.kexecmeasured.policy.file;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.policy.file.PolicyFile.Action;
import org.kexecmeasured.policy.file.PolicyFile.ClevisJweSource;
import org.kexecmeasured.policy.file.PolicyFile.Decision;
import org.kexecmeasured.policy.file.PolicyFile.Intent;
import org.kexecmeasured.policy.file.PolicyFile.Luks2Source;
import org.kexecmeasured.policy.file.PolicyFile.Measurement;
import org.kexecmeasured.policy.file.PolicyFile.PayloadTrust;
import org.kexecmeasured.policy.file.PolicyFile.Reauthorize;
import org.kexecmeasured.policy.file.PolicyFile.Secret;
import org.kexecmeasured.policy.file.PolicyFile.Source;
import org.kexecmeasured.policy.file.PolicyFile.Tpm2HandleSource;
import org.kexecmeasured.policy.file.PolicyFile.Tpm2NvSource;
import org.kexecmeasured.policy.file.PolicyFile.Tpm2ObjectSource;
import org.kexecmeasured.policy.file.YamlTree.At;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads a policy file: YAML → validated {@link PolicyFile}. Every error is a
 * {@link BadInputException} naming the file, the line and the key, raised before anything else
 * happens (no TPM, no payload, no secret source is touched here).
 */
public final class PolicyParser {
    /** A policy file is small; a larger one is refused before it is read. */
    public static final long MAX_BYTES = 1 << 20;

    /** The PCRs the built-in policy extends and bounds; the default of a policy file too. */
    public static final List<Integer> DEFAULT_PCRS = List.of(Pcr.BOOT_LOADER_CODE, Pcr.BOOT_LOADER_CONFIG,
            Pcr.KERNEL_INITRD, Pcr.KERNEL_BOOT, Pcr.KERNEL_CONFIG, Pcr.SYSEXTS);

    /** systemd-measure's default phases: from entering the initrd to the system being ready. */
    public static final List<String> DEFAULT_PHASES = List.of("enter-initrd", "enter-initrd:leave-initrd",
            "enter-initrd:leave-initrd:sysinit", "enter-initrd:leave-initrd:sysinit:ready");

    private static final int MAX_PCR = 23;
    private static final Pattern PHASE_WORD = Pattern.compile("[A-Za-z0-9_.-]+");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.@:-]{1,64}");

    private PolicyParser() {
    }

    /** Reads and validates a policy file. */
    public static PolicyFile read(Path file) {
        byte[] bytes = readCapped(file);
        return parse(file.toAbsolutePath().normalize(), bytes);
    }

    /** Validates policy bytes; {@code file} names the source in errors and anchors relative paths. */
    public static PolicyFile parse(Path file, byte[] bytes) {
        String name = file.toString();
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new BadInputException(name + ": not UTF-8 text");
        }
        Path base = file.toAbsolutePath().getParent();
        At root = YamlTree.parse(name, text);
        Map<String, At> top = root.mapping(Set.of("version", "payload", "measurement", "secrets", "signatures",
                "reauthorize", "decision"));
        At v = top.get("version");
        if (v == null) throw root.error("key 'version' is missing (version: " + PolicyFile.VERSION + ")");
        if (v.integer(0, Integer.MAX_VALUE) != PolicyFile.VERSION) {
            throw v.error("this tool reads policy version " + PolicyFile.VERSION);
        }
        PayloadTrust payload = payload(top.get("payload"), base);
        Measurement measurement = measurement(top.get("measurement"));
        List<Secret> secrets = secrets(top.get("secrets"), base);
        List<Path> signatures = new ArrayList<>();
        if (top.containsKey("signatures")) for (At s : top.get("signatures").list()) signatures.add(path(s, base));
        Reauthorize reauth = reauthorize(top.get("reauthorize"), base, secrets, measurement);
        Decision decision = decision(top.get("decision"));
        return new PolicyFile(file, Hex.of(HashAlg.SHA256.digest(bytes)), payload, measurement, secrets, signatures,
                reauth, decision);
    }

    private static byte[] readCapped(Path file) {
        try {
            if (Files.isRegularFile(file) && Files.size(file) > MAX_BYTES) {
                throw new BadInputException(file + ": a policy file larger than " + MAX_BYTES + " bytes is refused");
            }
            if (Files.notExists(file)) throw new NoSuchFileException(file.toString());
            // a pipe or device has no size: the capped reader, then the format's own bound
            byte[] b = BoundedFiles.read(file, BoundedFiles.TEXT);
            if (b.length > MAX_BYTES) throw new BadInputException(file + ": a policy file larger than " + MAX_BYTES + " bytes is refused");
            return b;
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": no such policy file");
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read the policy file: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ sections

    private static PayloadTrust payload(At at, Path base) {
        if (at == null) return new PayloadTrust(false, List.of(), List.of(), Map.of());
        Map<String, At> m = at.mapping(Set.of("require-signature", "trusted-certificates", "denied-digests", "minimum-sbat"));
        boolean require = m.containsKey("require-signature") && m.get("require-signature").bool();
        List<Path> certs = new ArrayList<>();
        if (m.containsKey("trusted-certificates")) for (At c : m.get("trusted-certificates").list()) certs.add(path(c, base));
        if (require && certs.isEmpty()) {
            throw m.get("require-signature").error("require-signature needs trusted-certificates (the db-like list of signers)");
        }
        List<byte[]> denied = new ArrayList<>();
        if (m.containsKey("denied-digests")) {
            for (At d : m.get("denied-digests").list()) {
                String s = d.string();
                if (!s.matches("[0-9a-fA-F]{64}")) throw d.error("expected a SHA-256 Authenticode digest (64 hex digits)");
                denied.add(Hex.parse(s));
            }
        }
        Map<String, Integer> sbat = new LinkedHashMap<>();
        if (m.containsKey("minimum-sbat")) {
            for (Map.Entry<String, At> e : m.get("minimum-sbat").anyMapping().entrySet()) {
                if (!e.getKey().matches("[A-Za-z0-9_.-]+")) throw e.getValue().error("not an SBAT component name");
                sbat.put(e.getKey(), (int) e.getValue().integer(0, Integer.MAX_VALUE));
            }
        }
        return new PayloadTrust(require, certs, denied, sbat);
    }

    private static Measurement measurement(At at) {
        Map<String, At> m = at == null ? Map.of() : at.mapping(Set.of("banks", "extend", "boundary", "shim-may-extend",
                "tolerate-divergent", "next-boot-phases"));
        List<HashAlg> banks = null;
        At b = m.get("banks");
        if (b != null && !b.isList()) {
            b.word(List.of("active"));
        } else if (b != null) {
            banks = new ArrayList<>();
            for (At x : b.list()) {
                HashAlg a = bank(x);
                if (banks.contains(a)) throw x.error("bank " + a.tpmName + " is listed twice");
                banks.add(a);
            }
            if (banks.isEmpty()) throw b.error("at least one bank (or 'active')");
        }
        SortedSet<Integer> extend = m.containsKey("extend") ? pcrSet(m.get("extend")) : new TreeSet<>(DEFAULT_PCRS);
        SortedSet<Integer> boundary = m.containsKey("boundary") ? pcrSet(m.get("boundary")) : new TreeSet<>(DEFAULT_PCRS);
        if (boundary.isEmpty()) throw (m.containsKey("boundary") ? m.get("boundary") : at).error("the boundary set must not be empty");
        // PCRs 16-23 can be reset from the OS (debug, localities, application): a boundary or an extend there
        // can be wiped by whoever comes next, so the measured kexec would prove nothing in them
        for (String key : List.of("extend", "boundary")) {
            SortedSet<Integer> set = key.equals("extend") ? extend : boundary;
            SortedSet<Integer> resettable = new TreeSet<>(set.tailSet(16));
            if (!resettable.isEmpty()) {
                throw (m.containsKey(key) ? m.get(key) : at).error("PCRs " + resettable + " can be reset by the running system "
                        + "(PCR 16 and the locality/application PCRs 17-23): a " + key + " set uses PCRs 0-15");
            }
        }
        if (!boundary.containsAll(extend)) {
            SortedSet<Integer> missing = new TreeSet<>(extend);
            missing.removeAll(boundary);
            At where = m.containsKey("boundary") ? m.get("boundary") : m.get("extend");
            throw where.error("every PCR of the extend set needs a boundary record first: add " + missing + " to the boundary set");
        }
        SortedSet<Integer> shim = m.containsKey("shim-may-extend") ? pcrSet(m.get("shim-may-extend")) : null; // null: not restricted
        SortedSet<Integer> tolerate = m.containsKey("tolerate-divergent") ? pcrSet(m.get("tolerate-divergent")) : new TreeSet<>();
        List<String> phases = m.containsKey("next-boot-phases") ? phases(m.get("next-boot-phases")) : DEFAULT_PHASES;
        return new Measurement(banks, extend, boundary, shim, tolerate, phases);
    }

    private static List<Secret> secrets(At at, Path base) {
        List<Secret> out = new ArrayList<>();
        if (at == null) return out;
        Set<String> names = new LinkedHashSet<>();
        for (At s : at.list()) {
            Map<String, At> m = s.mapping(Set.of("name", "source", "must-remain"));
            for (String k : List.of("name", "source", "must-remain")) {
                if (!m.containsKey(k)) throw s.error("key '" + k + "' is missing");
            }
            String name = m.get("name").string();
            if (!NAME.matcher(name).matches()) throw m.get("name").error("a secret name is 1–64 of A–Z a–z 0–9 _ . @ : -");
            if (!names.add(name)) throw m.get("name").error("secret '" + name + "' is declared twice");
            Intent intent = Intent.valueOf(m.get("must-remain").word(List.of("reachable", "unreachable", "any"))
                    .toUpperCase(java.util.Locale.ROOT));
            out.add(new Secret(name, source(m.get("source"), base), intent, s.line()));
        }
        return out;
    }

    private static Source source(At at, Path base) {
        Map<String, At> m = at.mapping(Set.of("luks2", "tpm2-object", "tpm2-handle", "tpm2-nv", "clevis-jwe"));
        if (m.size() != 1) throw at.error("exactly one of luks2, tpm2-object, tpm2-handle, tpm2-nv, clevis-jwe");
        Map.Entry<String, At> e = m.entrySet().iterator().next();
        At v = e.getValue();
        switch (e.getKey()) {
            case "luks2": {
                if (!v.isMapping()) return new Luks2Source(path(v, base), null, null);
                Map<String, At> l = v.mapping(Set.of("device", "token", "pcrlock-policy"));
                if (!l.containsKey("device")) throw v.error("key 'device' is missing");
                Integer token = l.containsKey("token") ? (int) l.get("token").integer(0, 31) : null;
                Path pcrlock = l.containsKey("pcrlock-policy") ? path(l.get("pcrlock-policy"), base) : null;
                return new Luks2Source(path(l.get("device"), base), token, pcrlock);
            }
            case "tpm2-object": {
                Map<String, At> o = v.mapping(Set.of("public", "private", "pcrs", "auth-value"));
                for (String k : List.of("public", "private", "pcrs")) if (!o.containsKey(k)) throw v.error("key '" + k + "' is missing");
                return new Tpm2ObjectSource(path(o.get("public"), base), path(o.get("private"), base), selection(o.get("pcrs")),
                        o.containsKey("auth-value") && o.get("auth-value").bool());
            }
            case "tpm2-handle": {
                Map<String, At> o = v.mapping(Set.of("handle", "pcrs", "auth-value"));
                for (String k : List.of("handle", "pcrs")) if (!o.containsKey(k)) throw v.error("key '" + k + "' is missing");
                int h = (int) o.get("handle").integer(0x81000000L, 0x81FFFFFFL);
                return new Tpm2HandleSource(h, selection(o.get("pcrs")), o.containsKey("auth-value") && o.get("auth-value").bool());
            }
            case "tpm2-nv": {
                Map<String, At> o = v.mapping(Set.of("index", "pcrs", "auth-value"));
                for (String k : List.of("index", "pcrs")) if (!o.containsKey(k)) throw v.error("key '" + k + "' is missing");
                int i = (int) o.get("index").integer(0x01000000L, 0x01FFFFFFL);
                return new Tpm2NvSource(i, selection(o.get("pcrs")), o.containsKey("auth-value") && o.get("auth-value").bool());
            }
            default:
                return new ClevisJweSource(path(v, base));
        }
    }

    private static Reauthorize reauthorize(At at, Path base, List<Secret> secrets, Measurement measurement) {
        if (at == null) return null;
        Map<String, At> m = at.mapping(Set.of("signing-key", "secrets", "phases", "banks"));
        for (String k : List.of("signing-key", "secrets")) if (!m.containsKey(k)) throw at.error("key '" + k + "' is missing");
        Path key = path(m.get("signing-key"), base);
        List<String> names = new ArrayList<>();
        for (At s : m.get("secrets").list()) {
            String n = s.string();
            if (secrets.stream().noneMatch(x -> x.name().equals(n))) throw s.error("no secret named '" + n + "' in secrets");
            if (names.contains(n)) throw s.error("'" + n + "' is listed twice");
            names.add(n);
        }
        if (names.isEmpty()) throw m.get("secrets").error("name at least one secret to re-authorize");
        List<String> phases = m.containsKey("phases") ? phases(m.get("phases")) : measurement.nextBootPhases();
        List<HashAlg> banks = new ArrayList<>();
        if (m.containsKey("banks")) {
            for (At b : m.get("banks").list()) {
                HashAlg a = bank(b);
                if (banks.contains(a)) throw b.error("bank " + a.tpmName + " is listed twice");
                banks.add(a);
            }
            if (banks.isEmpty()) throw m.get("banks").error("at least one bank");
        } else {
            banks.add(HashAlg.SHA256);
        }
        return new Reauthorize(key, names, phases, banks);
    }

    private static Decision decision(At at) {
        if (at == null) return Decision.DEFAULT;
        Map<String, At> m = at.mapping(Set.of("reachable", "unreachable", "chain-extends"));
        return new Decision(action(m.get("reachable")), action(m.get("unreachable")), action(m.get("chain-extends")));
    }

    // ------------------------------------------------------------------ values

    private static Action action(At at) {
        if (at == null) return Action.DENY;
        return at.word(List.of("deny", "warn")).equals("warn") ? Action.WARN : Action.DENY;
    }

    private static Path path(At at, Path base) {
        String s = at.string();
        if (s.indexOf('\0') >= 0) throw at.error("a path must not contain NUL");
        try {
            Path p = Path.of(s);
            return (p.isAbsolute() || base == null ? p : base.resolve(p)).normalize();
        } catch (java.nio.file.InvalidPathException e) {
            throw at.error("not a path: " + e.getMessage());
        }
    }

    private static HashAlg bank(At at) {
        String s = at.string();
        try {
            HashAlg a = HashAlg.fromName(s);
            if (!a.tpmName.equals(s)) throw new BadInputException("");
            return a;
        } catch (BadInputException e) {
            throw at.error("unknown bank '" + s + "' (sha1, sha256, sha384, sha512, sm3_256)");
        }
    }

    private static SortedSet<Integer> pcrSet(At at) {
        SortedSet<Integer> s = new TreeSet<>();
        for (At p : at.list()) {
            int n = pcr(p);
            if (!s.add(n)) throw p.error("PCR " + n + " is listed twice");
        }
        return s;
    }

    private static int pcr(At at) {
        if (!at.kind().equals("an integer") && !at.kind().equals("an octal integer")) {
            throw at.error("expected a PCR number 0.." + MAX_PCR + ", got " + at.kind());
        }
        long v = at.integer(Long.MIN_VALUE, Long.MAX_VALUE);
        if (v < 0 || v > MAX_PCR) throw at.error("PCR " + v + " does not exist (0.." + MAX_PCR + ")");
        return (int) v;
    }

    /** "sha256:7,11" (tpm2-tools form, one or more banks joined by '+'). */
    private static PcrSelection selection(At at) {
        String s = at.string();
        PcrSelection sel;
        try {
            sel = PcrSelection.parse(s);
        } catch (BadInputException e) {
            throw at.error(e.getMessage());
        }
        for (HashAlg b : sel.banks()) {
            for (int p : sel.pcrs(b)) if (p > MAX_PCR) throw at.error("PCR " + p + " does not exist (0.." + MAX_PCR + ")");
            if (sel.pcrs(b).isEmpty()) throw at.error("bank " + b.tpmName + " selects no PCR");
        }
        return sel;
    }

    private static List<String> phases(At at) {
        List<String> out = new ArrayList<>();
        for (At p : at.list()) {
            String s = p.string();
            List<String> words = new ArrayList<>();
            for (String w : s.split(":")) {
                if (w.isEmpty()) continue;
                if (!PHASE_WORD.matcher(w).matches()) throw p.error("'" + w + "' is not a phase word");
                words.add(w);
            }
            if (words.isEmpty()) throw p.error("a phase path has at least one word (e.g. enter-initrd)");
            String norm = String.join(":", words);
            if (out.contains(norm)) throw p.error("phase '" + norm + "' is listed twice");
            out.add(norm);
        }
        if (out.isEmpty()) throw at.error("at least one phase");
        return out;
    }
}
