package org.kexecmeasured.packaging;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged systemd units: systemd's own parser ({@code systemd-analyze verify}) accepts each without a warning,
 * and the uncommitted hand-over mark is ordered before any crypttab volume can be unlocked with the previous
 * system's PCRs (systemd-cryptsetup@ units are ordered after cryptsetup-pre.target; local-fs.target's mounts may
 * sit on those volumes, so the mark must not wait for it).
 */
class ServiceUnitsTest {

    private static final Path UNITS = RealParts.repoRoot().resolve("packaging/systemd");

    @Test
    void systemdAcceptsEveryUnitWithoutAWarning(@TempDir Path dir) throws Exception {
        try (var files = Files.list(UNITS)) {
            for (Path unit : files.filter(f -> f.toString().endsWith(".service")).toList()) {
                // the binary is not installed here: the same unit with a command that exists
                Path copy = dir.resolve(unit.getFileName());
                Files.writeString(copy, Files.readString(unit).replaceAll("(?m)^ExecStart=.*$", "ExecStart=/bin/true"));
                RealParts.Result r = RealParts.runAny(List.of("systemd-analyze", "verify", "--man=no", copy.toString()), "systemd");
                assertEquals(0, r.exit(), unit + ": " + r.stderr());
                assertEquals("", r.stderr().strip(), unit + ": systemd-analyze warned");
            }
        }
    }

    @Test
    void theUncommittedMarkRunsBeforeAnyCrypttabVolumeIsUnlocked() throws Exception {
        List<String> lines = Files.readAllLines(UNITS.resolve("kexec-measured-uncommitted.service"));
        List<String> before = values(lines, "Before");
        List<String> after = values(lines, "After");
        assertTrue(before.contains("cryptsetup-pre.target"), "Before=" + before);
        assertTrue(before.contains("sysinit.target"), "Before=" + before);
        assertTrue(values(lines, "Wants").contains("cryptsetup-pre.target"), "the target is pulled in, so the order holds");
        assertEquals(List.of("no"), values(lines, "DefaultDependencies"));
        for (String late : List.of("local-fs.target", "remote-fs.target", "cryptsetup.target", "sysinit.target", "basic.target")) {
            assertFalse(after.contains(late), "After=" + after + " would wait for " + late);
        }
    }

    private static List<String> values(List<String> lines, String key) {
        List<String> v = new ArrayList<>();
        for (String l : lines) {
            if (l.startsWith(key + "=")) v.addAll(Arrays.asList(l.substring(key.length() + 1).trim().split("\\s+")));
        }
        return v;
    }
}
