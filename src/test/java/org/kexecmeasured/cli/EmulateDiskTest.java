package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code emulate --disk}: hostile disks end with exit 2 and one line naming the disk, before anything runs. */
class EmulateDiskTest {

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        return new String[]{Integer.toString(rc), out.toString(), err.toString()};
    }

    @Test
    void aTruncatedDiskIsExit2WithOneLine(@TempDir Path dir) throws Exception {
        Path disk = RealParts.makeDisk(dir.resolve("d"));
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(20L << 20);
        }
        String[] r = run("emulate", "--disk", disk.toString(), RealParts.require(RealParts.SHIM_SIGNED, "shim-signed").toString());
        assertEquals("2", r[0], r[2]);
        String err = r[2].strip();
        assertFalse(err.contains("\n"), err);
        assertFalse(err.contains("Exception"), err);
        assertTrue(err.contains(disk.toString()) && err.contains("truncated"), err);
    }

    @Test
    void aMissingDiskAndABadBootPathAreExit2(@TempDir Path dir) throws Exception {
        Path shim = RealParts.require(RealParts.SHIM_SIGNED, "shim-signed");
        String[] r = run("emulate", "--disk", dir.resolve("nope.img").toString(), shim.toString());
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("does not exist"), r[2]);
        Files.write(dir.resolve("zero.img"), new byte[1 << 20]);
        r = run("emulate", "--disk", dir.resolve("zero.img").toString(), "--boot-path", "EFI/x.efi", shim.toString());
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("--boot-path"), r[2]);
    }

    /** {@code emulate --secure-boot}: GRUB boots through the kernel's EFI handover entry, the kernel make-disk put on /boot. */
    @Test
    void secureBootOnHandsOverThroughTheEfiHandoverEntry(@TempDir Path dir) throws Exception {
        Path disk = RealParts.makeDisk(dir.resolve("d"));
        Properties expected = new Properties();
        try (var rd = Files.newBufferedReader(dir.resolve("d/expected.env"))) {
            expected.load(rd);
        }
        String[] r = run("emulate", "--disk", disk.toString(), "--boot-path", "\\EFI\\debian\\shimx64.efi", "--secure-boot",
                "--json", "--time-budget", "240s", RealParts.require(RealParts.SHIM_SIGNED, "shim-signed").toString());
        assertEquals("0", r[0], r[2]);
        JsonNode h = Json.MAPPER.readTree(r[1]).get("handOff");
        assertEquals("EFI_HANDOVER", h.get("entry").asText(), h.toString());
        assertEquals(Hex.of(HashAlg.SHA256.digest(Files.readAllBytes(Path.of(expected.getProperty("kernel"))))),
                h.get("kernelSha256").asText(), "the kernel make-disk put on /boot");
    }
}
