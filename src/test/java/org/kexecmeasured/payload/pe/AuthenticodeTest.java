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
