package org.kexecmeasured.systemd;

import org.kexecmeasured.payload.RealParts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Debian's systemd of every suite (252 → newest), fetched once per JVM by {@code tests/bin/fetch-systemd}
 * (cached under ~/.cache/kexec-measured/systemd). A failed download fails the test that asked, naming why.
 */
public final class SystemdVersions {

    /**
     * One suite's tools, as fetch-systemd's env file names them.
     *
     * @param ukify      ukify wrapper, null when the suite has none (252)
     * @param addonStub  addonx64.efi.stub, null before 254
     */
    public record Version(String suite, String version, int major, Path stub, Path addonStub, Path ukify, Path measure) {
        /** The suite's extracted packages (fetch-systemd: CACHE/SUITE/root, beside bin/systemd-measure). */
        public Path root() {
            return measure.getParent().getParent().resolve("root");
        }

        @Override
        public String toString() {
            return major + " (" + suite + " " + version + ")";
        }
    }

    private static List<Version> all;

    private SystemdVersions() {
    }

    /** Every suite's tools (bookworm 252, bookworm-backports 254, trixie 257, forky 262, sid newest). */
    public static synchronized List<Version> all() {
        if (all != null) return all;
        Path script = RealParts.repoRoot().resolve("tests/bin/fetch-systemd");
        RealParts.Result r = RealParts.runAny(List.of(script.toString()), "apt, dpkg, python3, debian-archive-keyring");
        if (r.exit() != 0) {
            fail("tests/bin/fetch-systemd failed (it downloads Debian's systemd of every suite): " + r.stderr() + r.stdout());
        }
        List<Version> out = new ArrayList<>();
        for (String line : r.stdout().split("\n")) {
            String[] f = line.strip().split(" ");
            if (f.length != 3) continue;
            out.add(parse(Paths.get(f[2], "env")));
        }
        if (out.isEmpty()) fail("tests/bin/fetch-systemd listed no suite: " + r.stdout());
        all = List.copyOf(out);
        return all;
    }

    /** The tools of one suite. */
    public static Version suite(String suite) {
        for (Version v : all()) if (v.suite().equals(suite)) return v;
        throw new AssertionError("fetch-systemd did not provide " + suite);
    }

    private static Version parse(Path env) {
        Map<String, String> m = new LinkedHashMap<>();
        try {
            for (String l : Files.readAllLines(env)) {
                int eq = l.indexOf('=');
                if (eq < 0) continue;
                String v = l.substring(eq + 1);
                if (v.length() >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.substring(1, v.length() - 1);
                m.put(l.substring(0, eq), v);
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read " + env, e);
        }
        String version = m.get("VERSION");
        int major = Integer.parseInt(version.replaceAll("^(\\d+).*", "$1"));
        return new Version(m.get("SUITE"), version, major, path(m, "STUB"), path(m, "ADDON_STUB"), path(m, "UKIFY"), path(m, "MEASURE"));
    }

    private static Path path(Map<String, String> m, String k) {
        String v = m.get(k);
        return v == null || v.isEmpty() ? null : Paths.get(v);
    }
}
