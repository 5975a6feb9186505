package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `kexec-measured inspect` text and JSON on the test UKI, against pesign and systemd-measure. */
class InspectCommandTest {

    @TempDir
    static Path tmp;
    static Path uki;

    @BeforeAll
    static void build() {
        uki = RealParts.makeUki(tmp);
    }

    @Test
    void jsonReportOfTheTestUki() throws Exception {
        ChainFixtures.Cli r = ChainFixtures.cli("inspect", "--json", uki.toString());
        assertEquals(0, r.rc(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("UKI", j.get("type").asText());
        assertEquals(RealParts.pesignHash(uki), j.get("authenticode").get("sha256").asText());
        assertEquals("x86_64", j.get("pe").get("machine").asText());
        assertEquals("console=ttyS0 root=/dev/vda ro quiet", j.get("uki").get("cmdline").asText());
        assertTrue(j.get("uki").get("osrel").asText().contains("ID=debian"));
        assertTrue(j.get("uki").get("sbat").asText().startsWith("sbat,1,"));
        // .linux is inspected as the kernel it is: its own Authenticode digest is what pesign says of /boot/vmlinuz
        JsonNode linux = j.get("uki").get("linux");
        assertEquals("bzImage with EFI stub", linux.get("type").asText());
        assertEquals(RealParts.pesignHash(RealParts.kernel()), linux.get("authenticode").get("sha256").asText());
        assertTrue(linux.get("signatures").get(0).get("signers").get(0).get("subject").asText().contains("Debian Secure Boot Signer"));
        // PCR 11, every bank, against systemd-measure
        String sm = RealParts.run(List.of(RealParts.SYSTEMD_MEASURE.toString(), "calculate",
                "--linux=" + tmp.resolve("vmlinuz"), "--osrel=" + tmp.resolve("os-release"),
                "--cmdline=" + tmp.resolve("cmdline.txt"), "--initrd=" + tmp.resolve("initrd.cpio"), "--phase=:", "--json=short"), "systemd");
        JsonNode expected = new ObjectMapper().readTree(sm);
        for (String bank : List.of("sha1", "sha256", "sha384", "sha512")) {
            assertEquals(expected.get(bank).get(0).get("hash").asText(), j.get("uki").get("pcr11").get(bank).asText(), bank);
        }
        // sections as objdump lists them
        String h = RealParts.run(List.of("objdump", "-h", uki.toString()), "binutils");
        for (JsonNode s : j.get("pe").get("sections")) assertTrue(h.contains(" " + s.get("name").asText() + " "), s.toString());
    }

    @Test
    void textReport() {
        ChainFixtures.Cli r = ChainFixtures.cli("inspect", uki.toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("type: UKI"), r.out());
        assertTrue(r.out().contains("sha256: " + RealParts.pesignHash(uki)));
        assertTrue(r.out().matches("(?s).*\\n\\s+\\.linux\\s+0x2000000\\s+\\d+.*"), "section table row for .linux");
        assertTrue(r.out().contains("payloadCompression: xz"), "nested bzImage header");
        assertTrue(r.out().contains("prettyName: "));
    }

    @Test
    void plainFiles() {
        ChainFixtures.Cli r = ChainFixtures.cli("inspect", tmp.resolve("initrd.cpio").toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("format: cpio (newc) archive"), r.out());
        String sha = RealParts.run(List.of("sha256sum", tmp.resolve("initrd.cpio").toString()), "coreutils").split(" ")[0];
        assertTrue(r.out().contains("sha256: " + sha));
        ChainFixtures.Cli t = ChainFixtures.cli("inspect", "--json", tmp.resolve("os-release").toString());
        assertEquals(0, t.rc());
        assertTrue(t.out().contains("\"format\" : \"text\""), t.out());
    }
}
