package org.kexecmeasured.payload.uki;

import org.kexecmeasured.payload.pe.PeFile;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which systemd-stub a UKI carries, as the stub itself says: the {@code .sdmagic} section
 * ({@code "#### LoaderInfo: systemd-stub 257.13-1~deb13u1 ####"}, every stub since 2019), else the
 * {@code systemd-stub} line of {@code .sbat} (the upstream version only: {@code systemd-stub,1,…,systemd,257,…}).
 *
 * @param version the version text (a distribution version such as {@code 254.26-1~bpo12+1}, or the upstream major)
 * @param major   the upstream major version (the leading number)
 * @param source  where it was read: {@code .sdmagic} or {@code .sbat}
 */
public record StubVersion(String version, int major, String source) {

    private static final Pattern SDMAGIC = Pattern.compile("LoaderInfo: systemd-stub (\\d+)(\\S*) ####");
    private static final Pattern SBAT = Pattern.compile("(?m)^systemd-stub,\\d+,[^,\\n]*,systemd,(\\d+)(\\S*?),");

    /** The stub's version, or empty when the UKI names none (an unknown or stripped stub). */
    public static Optional<StubVersion> of(PeFile pe) {
        Uki u = Uki.unchecked(pe);
        String magic = u.text(".sdmagic");
        if (magic != null) {
            Matcher m = SDMAGIC.matcher(magic);
            if (m.find()) return Optional.of(parse(m.group(1), m.group(2), ".sdmagic"));
        }
        String sbat = u.text(".sbat");
        if (sbat != null) {
            Matcher m = SBAT.matcher(sbat);
            if (m.find()) return Optional.of(parse(m.group(1), m.group(2), ".sbat"));
        }
        return Optional.empty();
    }

    private static StubVersion parse(String major, String rest, String source) {
        // a major beyond int range is no systemd version: report it as text, major 0 (unknown to every model)
        int n = major.length() > 6 ? 0 : Integer.parseInt(major);
        return new StubVersion(major + rest, n, source);
    }

    @Override
    public String toString() {
        return "systemd-stub " + version;
    }
}
