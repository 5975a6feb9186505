package org.kexecmeasured.payload;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The payload mapped under a Linux read lease, or copied when no lease is granted: real files, a real second process
 * (sh) that opens the file for writing, pesign as the oracle for the Authenticode digest of the mapped bytes.
 */
class PayloadFileTest {

    @TempDir
    Path dir;

    /** A copy of Debian's systemd-boot that this test owns (so the lease is the owner's). */
    private Path efi() throws Exception {
        Path f = dir.resolve("systemd-bootx64.efi");
        Files.copy(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"), f);
        return f;
    }

    /** A process that opens {@code f} for writing (O_WRONLY|O_APPEND), says "opened", and keeps it open. */
    private static Process writer(Path f) throws Exception {
        return new ProcessBuilder("sh", "-c", "exec 3>>\"$0\"; echo opened; exec sleep 60", f.toString())
                .redirectErrorStream(true).start();
    }

    private static String firstLine(Process p) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
        return r.readLine();
    }

    @Test
    void aFileNobodyWritesIsMappedAndItsDigestIsPesigns() throws Exception {
        Path f = efi();
        try (PayloadFile p = PayloadFile.open(f)) {
            assertEquals(PayloadFile.Source.MAPPED, p.source(), p.describeSource());
            assertEquals("mapped", p.describeSource());
            ByteBuffer b = p.buffer();
            assertTrue(b.isReadOnly());
            assertTrue(b.isDirect(), "a mapping, not a heap copy");
            assertEquals(0, b.position());
            assertEquals(ByteOrder.LITTLE_ENDIAN, b.order());
            byte[] all = new byte[b.remaining()];
            b.get(all);
            assertArrayEquals(Files.readAllBytes(f), all);
            assertEquals(0, p.buffer().position(), "every view starts at 0");

            assertEquals(RealParts.pesignHash(f), Hex.of(Authenticode.digest(PeFile.parse(p.buffer()), HashAlg.SHA256)));
            p.checkUnchanged("in the test");
        }
    }

    @Test
    void aFileOpenForWritingIsCopiedAndSaysWhy() throws Exception {
        Path f = efi();
        Process w = writer(f);
        try {
            assertEquals("opened", firstLine(w));
            try (PayloadFile p = PayloadFile.open(f)) {
                assertEquals(PayloadFile.Source.COPY, p.source());
                assertTrue(p.describeSource().startsWith("copy: ") && p.describeSource().contains("open for writing"),
                        p.describeSource());
                assertFalse(p.buffer().isDirect(), "a private heap copy");
                byte[] held = new byte[p.size()];
                p.buffer().get(held);
                assertArrayEquals(Files.readAllBytes(f), held);
                p.checkUnchanged("in the test"); // a private copy cannot change
            }
        } finally {
            w.destroy();
            w.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void anOpenForWritingAfterTheMappingIsRefusedAndWaitsForTheRelease() throws Exception {
        Path f = efi();
        PayloadFile p = PayloadFile.open(f);
        Process w = null;
        try {
            assertEquals(PayloadFile.Source.MAPPED, p.source());
            w = writer(f);
            // the writer's open breaks the lease and blocks until it is released (or lease-break-time passes)
            BadInputException e = null;
            for (int i = 0; i < 200 && e == null; i++) {
                try {
                    p.checkUnchanged("before the TPM was extended");
                    Thread.sleep(50);
                } catch (BadInputException x) {
                    e = x;
                }
            }
            assertTrue(e != null, "the broken lease was noticed");
            assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains("opened for writing")
                    && e.getMessage().contains("before the TPM was extended") && e.getMessage().contains("nothing was extended"),
                    e.getMessage());
            assertFalse(w.getInputStream().available() > 0, "the writer still waits in open()");
            p.close();
            assertEquals("opened", firstLine(w), "the release let the writer go on");
        } finally {
            p.close();
            if (w != null) {
                w.destroy();
                w.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void hostileHeadersInAMappedFileAreBadInput() throws Exception {
        byte[] good = Files.readAllBytes(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
        // e_lfanew (offset 0x3c) far past the end of the file
        byte[] b1 = good.clone();
        ByteBuffer.wrap(b1).order(ByteOrder.LITTLE_ENDIAN).putInt(0x3c, 0x7fff_fff0);
        Path f1 = dir.resolve("lfanew.efi");
        Files.write(f1, b1);
        try (PayloadFile p = PayloadFile.open(f1)) {
            assertEquals(PayloadFile.Source.MAPPED, p.source());
            assertThrows(BadInputException.class, () -> PeFile.parse(p.buffer()));
        }
        // the first section's PointerToRawData far past the end: Authenticode refuses, naming the section
        PeFile pe = PeFile.parse(good);
        int sectionPtr = pe.sectionTableOffset() + 20; // IMAGE_SECTION_HEADER.PointerToRawData
        byte[] b2 = good.clone();
        ByteBuffer.wrap(b2).order(ByteOrder.LITTLE_ENDIAN).putInt(sectionPtr, 0x7000_0000);
        Path f2 = dir.resolve("section.efi");
        Files.write(f2, b2);
        try (PayloadFile p = PayloadFile.open(f2)) {
            assertEquals(PayloadFile.Source.MAPPED, p.source());
            BadInputException e = assertThrows(BadInputException.class,
                    () -> Authenticode.digest(PeFile.parse(p.buffer()), HashAlg.SHA256));
            assertTrue(e.getMessage().contains(pe.sections().get(0).name()) || e.getMessage().contains("0x70000000"), e.getMessage());
        }
    }

    @Test
    void missingFilesAndDirectoriesAreRefusedByName() throws Exception {
        BadInputException missing = assertThrows(BadInputException.class, () -> PayloadFile.open(dir.resolve("nope.efi")));
        assertTrue(missing.getMessage().contains("nope.efi") && missing.getMessage().contains("no such file"), missing.getMessage());
        BadInputException d = assertThrows(BadInputException.class, () -> PayloadFile.open(dir));
        assertTrue(d.getMessage().contains("directory"), d.getMessage());
    }
}
