package org.kexecmeasured.payload.uki;

import org.kexecmeasured.eventlog.Pcr;
import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A static model of PCR 11 as systemd-stub leaves it, per stub version; a cross-check beside the
 * emulator, which runs the stub's own code and is the prediction that counts.
 *
 * <p>For each section present and non-empty, in the version's order ({@link Rules}), the stub logs two
 * EV_IPL events into PCR 11: the digest of the section name including its terminating NUL, then the
 * digest of the section as loaded in memory (VirtualSize bytes; zero-filled past the raw data).
 * .pcrsig is never measured. A PCR starts at all zeros; extend is H(pcr || digest). Multi-profile UKIs
 * (257+): the selected profile's sections replace the base's of the same name, and its .profile is
 * measured. The model knows only the versions whose order was read from that stub's section table and
 * checked against that version's systemd-measure; for any other it says so ({@link #rulesFor}).
 */
public final class Pcr11 {

    public static final int PCR = Pcr.KERNEL_BOOT;

    /** The measuring order of the stub versions this model knows (the stub's unified_sections[] minus .pcrsig). */
    public enum Rules {
        V252(252, List.of(".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey"), false),
        V254(254, List.of(".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey"), false),
        V257(257, List.of(".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
                ".pcrpkey", ".profile"), true),
        V262(262, List.of(".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
                ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw"), true);

        public final int major;
        public final List<String> order;
        public final boolean profiles;

        Rules(int major, List<String> order, boolean profiles) {
            this.major = major;
            this.order = order;
            this.profiles = profiles;
        }

        @Override
        public String toString() {
            return "systemd-stub " + major + " rules: name+NUL then contents, order " + String.join(" ", order);
        }
    }

    /** The order of 252 (Debian 12), kept for callers that model that stub alone. */
    public static final List<String> ORDER_V252 = Rules.V252.order;

    /** One measured event: what was hashed and its digest per bank. */
    public record Event(String description, Map<HashAlg, byte[]> digests) {
    }

    /**
     * @param rules   the version rules used
     * @param profile the profile measured (null: a UKI without profiles)
     */
    public record Prediction(Rules rules, Integer profile, List<Event> events, Map<HashAlg, byte[]> pcr) {
    }

    /** Zero-fill beyond this is refused: real sections pad by kilobytes (kernel .bss by tens of MiB at most). */
    static final long MAX_ZERO_FILL = 256L << 20;

    private Pcr11() {
    }

    /** The rules for a stub version, or empty when this model does not know that version. */
    public static Optional<Rules> rulesFor(StubVersion v) {
        for (Rules r : Rules.values()) if (r.major == v.major()) return Optional.of(r);
        return Optional.empty();
    }

    /** The rules for the UKI's own stub; BadInputException naming the version when the model does not know it. */
    public static Rules rulesOf(PeFile pe) {
        StubVersion v = StubVersion.of(pe).orElseThrow(() -> new BadInputException(
                "UKI: the stub names no version (.sdmagic, .sbat); the static PCR 11 model does not know it"));
        return rulesFor(v).orElseThrow(() -> new BadInputException("UKI: " + v + ": the static PCR 11 model knows "
                + knownVersions() + " only"));
    }

    public static String knownVersions() {
        List<String> l = new ArrayList<>();
        for (Rules r : Rules.values()) l.add(String.valueOf(r.major));
        return "systemd-stub " + String.join(", ", l);
    }

    /** PCR 11 after the UKI's own stub (its version's rules), default profile. */
    public static Prediction predict(PeFile pe, Collection<HashAlg> banks) {
        return predict(pe, rulesOf(pe), null, banks, List.of());
    }

    /**
     * PCR 11 after the stub of {@code rules}, then each phase word (systemd-pcrphase: H(word), no NUL).
     *
     * @param profile the profile to boot; null selects profile 0 of a multi-profile UKI (what the stub boots
     *                without an {@code @N}), or the base of a UKI without profiles
     */
    public static Prediction predict(PeFile pe, Rules rules, Integer profile, Collection<HashAlg> banks, List<String> phaseWords) {
        Uki.requireUnambiguous(pe);
        Uki uki = Uki.unchecked(pe);
        boolean hasProfiles = rules.profiles && !uki.profiles().isEmpty();
        if (profile != null && !hasProfiles) {
            throw new BadInputException("UKI: profile " + profile + " requested, but "
                    + (rules.profiles ? "the UKI has no .profile sections" : "systemd-stub " + rules.major + " has no profiles"));
        }
        Integer p = hasProfiles ? (profile == null ? 0 : profile) : null;
        if (rules.order.contains(".dtbauto")) {
            long n = (p == null ? uki.baseSections() : uki.profiles().get(p).sections()).stream()
                    .filter(x -> x.name().equals(".dtbauto")).count();
            if (n > 1) {
                throw new BadInputException("UKI: " + n + " .dtbauto sections: the stub picks one by the machine's hardware IDs, "
                        + "which the static PCR 11 model does not know");
            }
        }
        List<HashAlg> algs = new ArrayList<>(banks);
        List<Event> events = new ArrayList<>();
        for (String name : rules.order) {
            Section s = rules.profiles ? uki.sectionFor(name, p) : pe.section(name).orElse(null);
            if (s == null || s.virtualSize() == 0) continue;
            byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            events.add(new Event(name + " (name)", hashAll(algs, nameBytes)));
            events.add(new Event(name + " (" + s.virtualSize() + " bytes)", hashLoaded(algs, pe, s)));
        }
        for (String w : phaseWords) {
            events.add(new Event("phase " + w, hashAll(algs, w.getBytes(StandardCharsets.UTF_8))));
        }
        Map<HashAlg, byte[]> pcr = new EnumMap<>(HashAlg.class);
        for (HashAlg a : algs) {
            byte[] v = new byte[a.size];
            for (Event e : events) v = a.extend(v, e.digests().get(a));
            pcr.put(a, v);
        }
        return new Prediction(rules, p, events, pcr);
    }

    private static Map<HashAlg, byte[]> hashAll(List<HashAlg> algs, byte[] data) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        for (HashAlg a : algs) m.put(a, a.digest(data));
        return m;
    }

    private static Map<HashAlg, byte[]> hashLoaded(List<HashAlg> algs, PeFile pe, Section s) {
        long vs = s.virtualSize();
        long raw = Math.min(vs, s.sizeOfRawData());
        if (vs - raw > MAX_ZERO_FILL) {
            throw new BadInputException(String.format("UKI: section %s virtual size 0x%x exceeds its raw data (0x%x) by more than %d MiB",
                    s.name(), vs, s.sizeOfRawData(), MAX_ZERO_FILL >> 20));
        }
        try (MultiHasher h = MultiHasher.create(algs)) {
            if (raw > 0) pe.update(h, s.pointerToRawData(), raw); // no heap copy of a mapped file
            h.updateZeros(vs - raw);
            return h.finish();
        }
    }
}
