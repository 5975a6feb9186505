package org.kexecmeasured.payload.uki;

import com.fasterxml.jackson.databind.JsonNode;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;

/**
 * A Unified Kernel Image: a systemd-stub PE with the payload in named sections
 * (UAPI.5 "Unified Kernel Image" and systemd-stub(7)). Text sections are decoded as UTF-8,
 * .pcrsig as JSON, .pcrpkey as a PEM public key.
 */
public final class Uki {

    /** The sections systemd-stub knows, in the order v252 measures them (.pcrsig is never measured). */
    public static final List<String> KNOWN_SECTIONS = List.of(
            ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
            ".pcrsig", ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw");

    private final PeFile pe;

    private Uki(PeFile pe) {
        this.pe = pe;
    }

    /** A PE with a .linux section is a UKI. */
    public static boolean isUki(PeFile pe) {
        return pe.section(".linux").isPresent();
    }

    public static Uki of(PeFile pe) {
        if (!isUki(pe)) throw new BadInputException("not a UKI: the PE has no .linux section");
        requireUnambiguous(pe);
        return new Uki(pe);
    }

    /** A view for reading sections before the UKI is known to be unambiguous (e.g. the stub's own version). */
    static Uki unchecked(PeFile pe) {
        return new Uki(pe);
    }

    /** The sections systemd-stub 252 locates (pe.c), which it matches by name prefix, the last header winning. */
    static final List<String> LOCATED_V252 = List.of(
            ".cmdline", ".linux", ".initrd", ".splash", ".dtb", ".osrel", ".pcrsig", ".pcrpkey");

    /** Sections a multi-profile stub accepts more than once in one scope (one per device, chosen by .hwids). */
    static final List<String> REPEATABLE = List.of(".dtbauto");

    /**
     * Refuses a UKI in which the stub could resolve a section name to more than one header, so what
     * this tool shows and predicts might not be what the stub boots and measures. Scopes are the base
     * (the headers before the first .profile) and each profile (from its .profile to the next) when the
     * stub supports profiles (systemd ≥ 257); in a scope, two headers of one known name are ambiguous,
     * and for older or unknown stubs so are two headers matching one of 252's names by prefix (252
     * matches by prefix and uses the last). A multi-profile UKI with an older stub is therefore refused:
     * that stub sees repeated sections.
     */
    public static void requireUnambiguous(PeFile pe) {
        java.util.Optional<StubVersion> v = StubVersion.of(pe);
        boolean profiles = v.isPresent() && v.get().major() >= 257;
        List<List<Section>> scopes = profiles ? scopes(pe.sections()) : List.of(pe.sections());
        for (int i = 0; i < scopes.size(); i++) {
            String where = !profiles || i == 0 ? "" : " in profile " + (i - 1);
            for (String name : KNOWN_SECTIONS) {
                if (REPEATABLE.contains(name)) continue;
                List<String> hits = new java.util.ArrayList<>();
                for (Section s : scopes.get(i)) {
                    if (s.name().equals(name)) hits.add(s.name() + "@0x" + Long.toHexString(s.virtualAddress()));
                }
                if (hits.size() > 1) {
                    throw new BadInputException("UKI: " + hits.size() + " section headers named '" + name + "'" + where + " " + hits
                            + "; which one " + v.map(StubVersion::toString).orElse("the stub") + " uses is ambiguous");
                }
            }
            if (profiles) continue;
            for (String name : LOCATED_V252) {
                List<String> hits = new java.util.ArrayList<>();
                for (Section s : scopes.get(i)) {
                    if (s.name().startsWith(name)) hits.add(s.name() + "@0x" + Long.toHexString(s.virtualAddress()));
                }
                if (hits.size() > 1) {
                    throw new BadInputException("UKI: " + hits.size() + " section headers match '" + name + "' " + hits
                            + "; systemd-stub " + v.map(StubVersion::version).orElse("(version unknown)")
                            + " matches by prefix and uses the last, so the measured content is ambiguous"
                            + (pe.section(".profile").isPresent() ? " (multi-profile UKIs need systemd-stub 257 or later)" : ""));
                }
            }
        }
    }

    /** The base scope (before the first .profile), then one scope per profile starting with its .profile header. */
    private static List<List<Section>> scopes(List<Section> sections) {
        List<List<Section>> out = new java.util.ArrayList<>();
        List<Section> cur = new java.util.ArrayList<>();
        out.add(cur);
        for (Section s : sections) {
            if (s.name().equals(".profile")) {
                cur = new java.util.ArrayList<>();
                out.add(cur);
            }
            cur.add(s);
        }
        return out;
    }

    /**
     * One profile of a multi-profile UKI (UAPI.5: the sections from a {@code .profile} header up to the
     * next one; the stub selects profile N from an {@code @N} first word of its command line, 0 by default).
     *
     * @param index    N
     * @param text     the .profile section's text (KEY=VALUE lines such as ID= and TITLE=)
     * @param sections the profile's headers, its .profile first
     */
    public record Profile(int index, String text, List<Section> sections) {
        /** The ID= value of the .profile text, or null. */
        public String id() {
            return field("ID");
        }

        /** The TITLE= value of the .profile text, or null. */
        public String title() {
            return field("TITLE");
        }

        private String field(String key) {
            for (String line : text.split("\n")) {
                if (line.startsWith(key + "=")) return line.substring(key.length() + 1).strip();
            }
            return null;
        }
    }

    /** The profiles in header order (empty for a UKI without .profile sections). */
    public List<Profile> profiles() {
        List<List<Section>> sc = scopes(pe.sections());
        List<Profile> out = new java.util.ArrayList<>();
        for (int i = 1; i < sc.size(); i++) {
            out.add(new Profile(i - 1, textOf(sc.get(i).get(0)), List.copyOf(sc.get(i))));
        }
        return out;
    }

    /** The headers before the first .profile (all of them for a UKI without profiles). */
    public List<Section> baseSections() {
        return List.copyOf(scopes(pe.sections()).get(0));
    }

    /**
     * The section the stub uses for {@code name} when booting {@code profile} (null: no profile, the
     * base alone): the profile's own header if it has one, else the base's; null when neither has it.
     */
    public Section sectionFor(String name, Integer profile) {
        if (profile != null) {
            List<Profile> ps = profiles();
            if (profile < 0 || profile >= ps.size()) {
                throw new BadInputException("UKI: no profile " + profile + " (it has " + ps.size() + ")");
            }
            for (Section s : ps.get(profile).sections()) if (s.name().equals(name)) return s;
        }
        for (Section s : baseSections()) if (s.name().equals(name)) return s;
        return null;
    }

        public PeFile pe() {
        return pe;
    }

    public Optional<Section> section(String name) {
        return pe.section(name);
    }

    /**
     * The section as systemd-stub sees it in memory: VirtualSize bytes, the raw data followed by
     * zeros when VirtualSize exceeds SizeOfRawData (the loader zero-fills), truncated when smaller.
     */
    public byte[] loaded(Section s) {
        long vs = s.virtualSize();
        if (vs > Integer.MAX_VALUE - 16) throw new BadInputException("UKI: section " + s.name() + " virtual size " + vs + " is too large");
        byte[] out = new byte[(int) vs];
        long n = Math.min(vs, s.sizeOfRawData());
        if (n == 0) return out;
        System.arraycopy(pe.read(s.pointerToRawData(), n), 0, out, 0, (int) n);
        return out;
    }

    /** Text sections longer than this are refused: real ones are kilobytes, and all of it would be shown. */
    static final int MAX_TEXT = 16 << 20;

    /** Text content of a section up to the first NUL, UTF-8; null when absent. */
    public String text(String name) {
        return section(name).map(this::textOf).orElse(null);
    }

    /** Text content of one header's section up to the first NUL, UTF-8. */
    public String textOf(Section s) {
        // bytes past the raw data load as zeros, which end the text: read only the raw part
        if (s.sizeOfRawData() == 0) return ""; // PointerToRawData means nothing then
        java.nio.ByteBuffer b = pe.data();
        int start = (int) s.pointerToRawData();
        int limit = (int) (start + Math.min(s.virtualSize(), s.sizeOfRawData()));
        int end = start;
        while (end < limit && b.get(end) != 0) end++;
        if (end - start > MAX_TEXT) {
            throw new BadInputException(String.format("UKI: section %s holds %d bytes of text, more than the %d MiB shown",
                    s.name(), end - start, MAX_TEXT >> 20));
        }
        return new String(pe.read(start, end - start), StandardCharsets.UTF_8);
    }

    public String osRelease() {
        return text(".osrel");
    }

    public String cmdline() {
        return text(".cmdline");
    }

    public String uname() {
        return text(".uname");
    }

    public String sbat() {
        return text(".sbat");
    }

    /** PRETTY_NAME (or NAME) from .osrel, unquoted. */
    public String prettyName() {
        String os = osRelease();
        if (os == null) return null;
        String name = null;
        for (String line : os.split("\n")) {
            int eq = line.indexOf('=');
            if (eq < 0) continue;
            String k = line.substring(0, eq).strip();
            String v = line.substring(eq + 1).strip();
            if (v.length() >= 2 && (v.startsWith("\"") && v.endsWith("\"") || v.startsWith("'") && v.endsWith("'"))) {
                v = v.substring(1, v.length() - 1);
            }
            if (k.equals("PRETTY_NAME")) return v;
            if (k.equals("NAME")) name = v;
        }
        return name;
    }

    /** The .pcrsig JSON, or null when absent; BadInputException when it is not JSON. */
    public JsonNode pcrSignature() {
        String t = text(".pcrsig");
        if (t == null) return null;
        try {
            // util.Json (and Jackson) loads only here, when a UKI has a .pcrsig: class loading costs ~100 ms
            return org.kexecmeasured.util.Json.MAPPER.readTree(t);
        } catch (IOException e) {
            throw new BadInputException("UKI: .pcrsig is not valid JSON: " + String.valueOf(e.getMessage()).replace('\n', ' '));
        }
    }

    /** The .pcrpkey public key: PEM text, algorithm and systemd's fingerprint (sha256 of the DER SubjectPublicKeyInfo). */
    public record PcrPublicKey(String pem, String algorithm, String fingerprintSha256) {
    }

    public PcrPublicKey pcrPublicKey() {
        String pem = text(".pcrpkey");
        if (pem == null) return null;
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o = p.readObject();
            if (!(o instanceof SubjectPublicKeyInfo spki)) {
                throw new BadInputException("UKI: .pcrpkey is not a PEM public key");
            }
            byte[] der = spki.getEncoded();
            MessageDigest md = HashAlg.SHA256.newDigest();
            String alg = algorithmName(spki.getAlgorithm().getAlgorithm().getId());
            return new PcrPublicKey(pem.strip(), alg, Hex.of(md.digest(der)));
        } catch (IOException | RuntimeException e) {
            if (e instanceof BadInputException b) throw b;
            throw new BadInputException("UKI: .pcrpkey is not a PEM public key: " + e.getMessage());
        }
    }

    private static String algorithmName(String oid) {
        return switch (oid) {
            case "1.2.840.113549.1.1.1" -> "RSA";
            case "1.2.840.10045.2.1" -> "EC";
            case "1.3.101.112" -> "Ed25519";
            default -> oid;
        };
    }
}
