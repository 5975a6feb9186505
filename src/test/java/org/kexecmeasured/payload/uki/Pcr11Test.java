package org.kexecmeasured.payload.uki;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Predicted PCR 11 against a live `systemd-measure calculate --phase=:` (systemd 252), every bank it prints. */
class Pcr11Test {

    @TempDir
    Path tmp;

    /** Runs systemd-measure; returns bank -> hex as printed ("11:sha256=..."). */
    static Map<String, String> systemdMeasure(List<String> sectionArgs) {
        List<String> cmd = new ArrayList<>();
        cmd.add(RealParts.require(RealParts.SYSTEMD_MEASURE, "systemd (252, /lib/systemd/systemd-measure)").toString());
        cmd.add("calculate");
        cmd.addAll(sectionArgs);
        cmd.add("--phase=:");
        String out = RealParts.run(cmd, "systemd");
        Map<String, String> m = new LinkedHashMap<>();
        Matcher x = Pattern.compile("(?m)^11:(sha\\d+)=([0-9a-f]+)$").matcher(out);
        while (x.find()) m.put(x.group(1), x.group(2));
        assertFalse(m.isEmpty(), "systemd-measure printed no PCR 11 values: " + out);
        return m;
    }

    private static void assertAllBanks(Map<String, String> expected, PeFile pe) {
        Pcr11.Prediction p = Pcr11.predict(pe, EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512));
        assertEquals(4, expected.size(), "systemd-measure prints sha1, sha256, sha384, sha512: " + expected);
        for (Map.Entry<String, String> e : expected.entrySet()) {
            HashAlg a = HashAlg.fromName(e.getKey());
            assertEquals(e.getValue(), Hex.of(p.pcr().get(a)), "PCR 11 " + e.getKey());
        }
    }

    @Test
    void testUkiMatchesSystemdMeasure() {
        Path uki = RealParts.makeUki(tmp);
        PeFile pe = PeFile.parse(RealParts.read(uki));
        Map<String, String> expected = systemdMeasure(List.of(
                "--linux=" + tmp.resolve("vmlinuz"), "--osrel=" + tmp.resolve("os-release"),
                "--cmdline=" + tmp.resolve("cmdline.txt"), "--initrd=" + tmp.resolve("initrd.cpio")));
        assertAllBanks(expected, pe);
    }

    /**
     * All seven measured sections plus .pcrsig (never measured) and .uname (not measured by 252),
     * added in a scrambled order so the canonical order has to come from the predictor.
     */
    @Test
    void everyMeasuredSectionInCanonicalOrderAndPcrsigExcluded() throws IOException {
        Path uki = RealParts.makeUki(tmp.resolve("base"));
        Path base = tmp.resolve("base");
        Random rnd = new Random(11);
        Path splash = write("splash.bmp", rnd, 3000);
        Path dtb = write("board.dtb", rnd, 1234);
        Path pcrsig = tmp.resolve("pcrsig.json");
        Files.writeString(pcrsig, "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"00\",\"pol\":\"00\",\"sig\":\"AA==\"}]}");
        Path uname = tmp.resolve("uname");
        Files.writeString(uname, "6.1.0-test");
        Path key = tmp.resolve("pcrpkey.pem");
        RealParts.run(List.of("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", tmp.resolve("k.pem").toString()), "openssl");
        RealParts.run(List.of("openssl", "pkey", "-in", tmp.resolve("k.pem").toString(), "-pubout", "-out", key.toString()), "openssl");
        Path full = tmp.resolve("full.efi");
        RealParts.run(List.of("objcopy",
                "--add-section", ".pcrpkey=" + key, "--change-section-vma", ".pcrpkey=0x40000",
                "--add-section", ".pcrsig=" + pcrsig, "--change-section-vma", ".pcrsig=0x50000",
                "--add-section", ".dtb=" + dtb, "--change-section-vma", ".dtb=0x60000",
                "--add-section", ".uname=" + uname, "--change-section-vma", ".uname=0x70000",
                "--add-section", ".splash=" + splash, "--change-section-vma", ".splash=0x80000",
                uki.toString(), full.toString()), "binutils");
        PeFile pe = PeFile.parse(RealParts.read(full));
        assertTrue(pe.section(".pcrsig").isPresent());
        Map<String, String> expected = systemdMeasure(List.of(
                "--linux=" + base.resolve("vmlinuz"), "--osrel=" + base.resolve("os-release"),
                "--cmdline=" + base.resolve("cmdline.txt"), "--initrd=" + base.resolve("initrd.cpio"),
                "--splash=" + splash, "--dtb=" + dtb, "--pcrpkey=" + key));
        assertAllBanks(expected, pe);

        Uki u = Uki.of(pe);
        assertEquals("6.1.0-test", u.uname());
        assertEquals(11, u.pcrSignature().get("sha256").get(0).get("pcrs").get(0).asInt());
        Uki.PcrPublicKey pk = u.pcrPublicKey();
        assertEquals("RSA", pk.algorithm());
        // systemd's pkfp: sha256 of the DER SubjectPublicKeyInfo, computed here by openssl
        byte[] der = RealParts.runBytes(List.of("openssl", "pkey", "-pubin", "-in", key.toString(), "-outform", "DER"), "openssl");
        assertEquals(Hex.of(HashAlg.SHA256.digest(der)), pk.fingerprintSha256());
    }

    private Path write(String name, Random rnd, int n) throws IOException {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        Path p = tmp.resolve(name);
        Files.write(p, b);
        return p;
    }
}
