package org.kexecmeasured.policy.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.PeFile;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The policy's minimum SBAT generations, read from a mapped payload's .sbat section (no copy of the whole file).
 * Oracle: the section as objcopy (binutils) extracts it, its CSV read here line by line.
 */
class SbatCheckTest {

    @TempDir
    Path dir;

    @Test
    void minimumGenerationsAreCheckedOnAMappedPayload() throws Exception {
        Path efi = dir.resolve("systemd-bootx64.efi");
        Files.copy(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"), efi);
        Path sbat = dir.resolve("sbat.bin");
        Process p = new ProcessBuilder("objcopy", "-O", "binary", "--only-section=.sbat", efi.toString(), sbat.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "objcopy (package binutils): " + out);
        Map<String, Integer> generations = new LinkedHashMap<>();
        for (String l : new String(Files.readAllBytes(sbat), StandardCharsets.UTF_8).replace("\0", "").split("\n")) {
            String[] f = l.split(",");
            if (f.length >= 2) generations.put(f[0], Integer.parseInt(f[1].strip()));
        }
        assertTrue(generations.containsKey("systemd"), generations.toString());
        int systemd = generations.get("systemd");

        try (PayloadFile pf = PayloadFile.open(efi)) {
            assertEquals(PayloadFile.Source.MAPPED, pf.source());
            PeFile pe = PeFile.parse(pf.buffer());
            List<String> fail = new ArrayList<>();
            List<String> checked = new ArrayList<>();
            PayloadCheck.sbat(pe, "the payload", Map.of("systemd", systemd), fail, checked);
            assertEquals(List.of(), fail);
            assertTrue(checked.stream().anyMatch(c -> c.contains("systemd generation " + systemd)), checked.toString());

            PayloadCheck.sbat(pe, "the payload", Map.of("systemd", systemd + 1), fail, checked);
            assertEquals(1, fail.size(), fail.toString());
            assertTrue(fail.get(0).contains("generation " + systemd + " is below the policy's minimum " + (systemd + 1)), fail.get(0));
        }
    }
}
