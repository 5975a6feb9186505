package org.kexecmeasured.payload.pe;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.EnumSet;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Authenticode SHA-256 against pesign, run live, on Debian's real EFI binaries and a test-built UKI. */
class AuthenticodeTest {

    @TempDir
    static Path tmp;
    static Path uki;

    @BeforeAll
    static void buildUki() {
        uki = RealParts.makeUki(tmp);
    }

    private static void assertMatchesPesign(Path file) {
        PeFile pe = PeFile.parse(RealParts.read(file));
        String ours = Hex.of(Authenticode.digest(pe, HashAlg.SHA256));
        assertEquals(RealParts.pesignHash(file), ours, "Authenticode SHA-256 of " + file);
    }

    @Test
    void systemdBootMatchesPesign() {
        assertMatchesPesign(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
    }

    @Test
    void linuxStubMatchesPesign() {
        assertMatchesPesign(RealParts.require(RealParts.LINUX_STUB, "systemd-boot-efi"));
    }

    @Test
    void signedKernelMatchesPesign() {
        assertMatchesPesign(RealParts.kernel());
    }

    @Test
    void shimMatchesPesign() {
        assertMatchesPesign(RealParts.require(RealParts.SHIM_SIGNED, "shim-signed"));
    }

    @Test
    void grubMatchesPesign() {
        assertMatchesPesign(RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed"));
    }

    @Test
    void objcopyUkiWithTrailingDataMatchesPesign() {
        PeFile pe = PeFile.parse(RealParts.read(uki));
        long lastEnd = pe.sections().stream().mapToLong(s -> s.pointerToRawData() + s.sizeOfRawData()).max().orElseThrow();
        assertTrue(pe.fileSize() > lastEnd, "the stub-based UKI carries data after its last section");
        assertMatchesPesign(uki);
    }

    /**
     * A gap between two sections' raw data (0x200 bytes inserted before the last section, whose
     * PointerToRawData moves accordingly): EDK2 and pesign hash FileSize - SUM_OF_BYTES_HASHED bytes
     * from offset SUM_OF_BYTES_HASHED after the sections; pesign, run live, is the oracle.
     */
    @Test
    void gapBetweenSectionsFollowsPesign() throws Exception {
        byte[] b = RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
        PeFile pe = PeFile.parse(b);
        int last = 0;
        for (int i = 1; i < pe.sections().size(); i++) {
            if (pe.sections().get(i).pointerToRawData() > pe.sections().get(last).pointerToRawData()) last = i;
        }
        Section s = pe.sections().get(last);
        int at = (int) s.pointerToRawData();
        byte[] g = new byte[b.length + 0x200];
        System.arraycopy(b, 0, g, 0, at);
        java.util.Arrays.fill(g, at, at + 0x200, (byte) 0xab);
        System.arraycopy(b, at, g, at + 0x200, b.length - at);
        java.nio.ByteBuffer.wrap(g).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putInt(pe.sectionTableOffset() + 40 * last + 20, at + 0x200);
        if (pe.pointerToSymbolTable() > at) {
            java.nio.ByteBuffer.wrap(g).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putInt(pe.peHeaderOffset() + 4 + 8, (int) pe.pointerToSymbolTable() + 0x200);
        }
        Path f = tmp.resolve("gap.efi");
        java.nio.file.Files.write(f, g);
        PeFile gp = PeFile.parse(g);
        assertEquals(at + 0x200, gp.sections().get(last).pointerToRawData());
        assertMatchesPesign(f);
    }

    @Test
    void allBanksInOnePassEqualSingleDigests() throws Exception {
        PeFile pe = PeFile.parse(RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi")));
        Map<HashAlg, byte[]> all = Authenticode.digests(pe, EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512));
        assertEquals(4, all.size());
        for (HashAlg a : all.keySet()) {
            // independent recomputation from the ranges with a fresh JCA digest
            MessageDigest md = MessageDigest.getInstance(a.jcaName);
            for (Authenticode.Range r : Authenticode.hashedRanges(pe)) md.update(pe.bytes(), (int) r.offset(), (int) r.length());
            assertArrayEquals(md.digest(), all.get(a), a.name());
            assertArrayEquals(Authenticode.digest(pe, a), all.get(a), a.name());
        }
    }
}
