package org.kexecmeasured.kexec;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The newc writer against two independent readers: GNU cpio (extracting) and commons-compress. */
class NewcCpioTest {

    private static Map<String, byte[]> sample() {
        Map<String, byte[]> files = new LinkedHashMap<>();
        byte[] big = new byte[70_001]; // not a multiple of 4: exercises the data padding
        new Random(7).nextBytes(big);
        files.put(".extra/kexec-measured/tpm2-event-log.bin", big);
        files.put(".extra/kexec-measured/manifest.json", "{\"a\":1}\n".getBytes(StandardCharsets.UTF_8));
        files.put(".extra/kexec-measured/empty", new byte[0]);
        files.put("x", "abc".getBytes(StandardCharsets.UTF_8)); // a one-letter name: header + name padding
        return files;
    }

    @Test
    void gnuCpioExtractsEveryFileWithItsContentAndMode(@TempDir Path dir) throws IOException {
        Map<String, byte[]> files = sample();
        Path archive = dir.resolve("a.cpio");
        Files.write(archive, NewcCpio.of(files));
        Path into = Files.createDirectory(dir.resolve("out"));
        RealParts.run(List.of("sh", "-c", "cd '" + into + "' && cpio -idm --quiet --no-absolute-filenames < '" + archive + "'"),
                "cpio");
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            Path f = into.resolve(e.getKey());
            assertArrayEquals(e.getValue(), Files.readAllBytes(f), e.getKey());
            assertEquals("r--r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)), e.getKey());
        }
        assertEquals("r-xr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(into.resolve(".extra/kexec-measured"))));
        // GNU cpio's listing: parents before children, each directory once, then nothing after the trailer
        String listing = RealParts.run(List.of("sh", "-c", "cpio -it --quiet < '" + archive + "'"), "cpio");
        assertEquals(List.of(".extra", ".extra/kexec-measured", ".extra/kexec-measured/tpm2-event-log.bin",
                ".extra/kexec-measured/manifest.json", ".extra/kexec-measured/empty", "x"), List.of(listing.strip().split("\n")));
    }

    @Test
    void commonsCompressReadsNewcEntriesOwnedByRoot() throws IOException {
        Map<String, byte[]> files = sample();
        byte[] a = NewcCpio.of(files);
        assertEquals(0, a.length % 4, "the archive ends 4-byte aligned (the next concatenated archive starts there)");
        List<String> names = new ArrayList<>();
        try (CpioArchiveInputStream in = new CpioArchiveInputStream(new ByteArrayInputStream(a))) {
            CpioArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                assertEquals(CpioConstants.FORMAT_NEW, e.getFormat());
                assertEquals(0, e.getUID());
                assertEquals(0, e.getGID());
                assertEquals(0, e.getTime());
                names.add(e.getName());
                if (e.isRegularFile()) assertArrayEquals(files.get(e.getName()), in.readAllBytes(), e.getName());
            }
        }
        assertEquals(6, names.size());
    }

    @Test
    void sameFilesGiveTheSameBytes() {
        assertArrayEquals(NewcCpio.of(sample()), NewcCpio.of(sample()));
    }

    @Test
    void refusesPathsThatCouldEscapeTheArchiveRoot() {
        for (String bad : List.of("/etc/passwd", "../x", "a/../../x", "a//b", "a/", "", "a/./b", "a\0b")) {
            assertThrows(IllegalArgumentException.class, () -> new NewcCpio().file(bad, new byte[1]), bad);
        }
        assertTrue(new NewcCpio().file("a/b", new byte[1]).finish().length > 0);
    }
}
