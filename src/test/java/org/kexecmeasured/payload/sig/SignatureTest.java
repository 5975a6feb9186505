package org.kexecmeasured.payload.sig;

import org.bouncycastle.cert.X509CertificateHolder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.util.Le;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Embedded signatures of Debian's signed kernel and GRUB against the Debian Secure Boot CA, which
 * the test takes from shim's .vendor_cert section (extracted with objcopy), an unrelated
 * certificate made by openssl, and a copy with one flipped byte. sbverify is the live oracle.
 */
class SignatureTest {

    @TempDir
    static Path tmp;
    static Path debianCa;
    static Path unrelated;

    @BeforeAll
    static void certificates() throws IOException {
        Path shim = RealParts.require(RealParts.SHIM_SIGNED, "shim-signed");
        Path vc = tmp.resolve("vendor_cert.bin");
        RealParts.run(List.of("objcopy", "-O", "binary", "--only-section=.vendor_cert", shim.toString(), vc.toString()), "binutils");
        byte[] b = Files.readAllBytes(vc);
        // struct { u32 authorized_size, deauthorized_size, authorized_offset, deauthorized_offset; }
        int size = (int) Le.u32(b, 0);
        int off = (int) Le.u32(b, 8);
        Path der = tmp.resolve("debian-ca.der");
        Files.write(der, Arrays.copyOfRange(b, off, off + size));
        debianCa = tmp.resolve("debian-ca.pem");
        RealParts.run(List.of("openssl", "x509", "-inform", "DER", "-in", der.toString(), "-out", debianCa.toString()), "openssl");
        String subj = RealParts.run(List.of("openssl", "x509", "-in", debianCa.toString(), "-noout", "-subject"), "openssl");
        assertTrue(subj.contains("Debian Secure Boot CA"), subj);

        unrelated = tmp.resolve("unrelated.pem");
        RealParts.run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp.resolve("u.key").toString(),
                "-out", unrelated.toString(), "-days", "30", "-subj", "/CN=Debian Secure Boot CA"), "openssl");
    }

    static List<AuthenticodeSignatures.Entry> check(Path file, Path trust) {
        PeFile pe = PeFile.parse(RealParts.read(file));
        List<X509CertificateHolder> anchors = trust == null ? List.of() : Certificates.load(trust);
        return AuthenticodeSignatures.check(pe, null, anchors);
    }

    static AuthenticodeSignatures.Signer onlySigner(List<AuthenticodeSignatures.Entry> entries) {
        assertEquals(1, entries.size(), "one WIN_CERTIFICATE");
        assertEquals("PKCS_SIGNED_DATA", entries.get(0).typeName());
        assertEquals(1, entries.get(0).signers().size());
        return entries.get(0).signers().get(0);
    }

    static boolean sbverify(Path file, Path cert) {
        return RealParts.runAny(List.of("sbverify", "--cert", cert.toString(), file.toString()), "sbsigntool").exit() == 0;
    }

    @Test
    void debianKernelVerifiesAgainstDebianCa() {
        Path k = RealParts.kernel();
        AuthenticodeSignatures.Signer s = onlySigner(check(k, debianCa));
        assertTrue(s.subject().contains("Debian Secure Boot Signer"), s.subject());
        assertEquals("CN=Debian Secure Boot CA", s.issuer());
        assertEquals("sha256", s.digestAlgorithm());
        assertEquals(RealParts.pesignHash(k), s.signedImageDigest(), "signed digest = pesign's computed digest");
        assertTrue(s.digestMatches());
        assertTrue(s.signatureValid());
        assertEquals(Boolean.TRUE, s.trusted());
        assertTrue(s.verified());
        assertTrue(sbverify(k, debianCa), "oracle: sbverify agrees");
    }

    @Test
    void debianGrubVerifiesAgainstDebianCa() {
        Path g = RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed");
        AuthenticodeSignatures.Signer s = onlySigner(check(g, debianCa));
        assertTrue(s.subject().contains("Debian Secure Boot Signer"), s.subject());
        assertTrue(s.verified(), String.valueOf(s.problem()));
        assertTrue(sbverify(g, debianCa), "oracle: sbverify agrees");
    }

    @Test
    void unrelatedCertWithTheSameNameIsNotTrusted() {
        for (Path f : List.of(RealParts.kernel(), RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed"))) {
            AuthenticodeSignatures.Signer s = onlySigner(check(f, unrelated));
            assertTrue(s.digestMatches());
            assertTrue(s.signatureValid());
            assertEquals(Boolean.FALSE, s.trusted(), f.toString());
            assertFalse(s.verified());
            assertFalse(sbverify(f, unrelated), "oracle: sbverify rejects it too");
        }
    }

    @Test
    void flippedByteInASectionBreaksTheDigest() throws IOException {
        Path g = RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed");
        byte[] b = RealParts.read(g);
        PeFile pe = PeFile.parse(b);
        Section text = pe.section(".text").orElseThrow();
        byte[] copy = b.clone();
        int at = (int) (text.pointerToRawData() + text.sizeOfRawData() / 2);
        copy[at] ^= 0x01;
        Path bad = tmp.resolve("grub-flipped.efi");
        Files.write(bad, copy);
        AuthenticodeSignatures.Signer s = onlySigner(check(bad, debianCa));
        assertFalse(s.digestMatches());
        assertTrue(s.signatureValid(), "the PKCS#7 itself is intact");
        assertFalse(s.verified());
        assertNotNull(s.problem());
        assertFalse(sbverify(bad, debianCa), "oracle: sbverify rejects the flipped copy");
        assertTrue(sbverify(g, debianCa));
    }

    /** Debian's shim carries two signatures (Microsoft UEFI CA 2011 and 2023 chains); both must check. */
    @Test
    void dualSignedShimBothSignaturesIntactWithoutTrustAnchors() {
        Path shim = RealParts.require(RealParts.SHIM_SIGNED, "shim-signed");
        List<AuthenticodeSignatures.Entry> entries = check(shim, null);
        assertTrue(entries.size() >= 1);
        // osslsigncode 2.9 calls a two-entry table corrupted; sbverify --list reads both
        String list = RealParts.run(List.of("sbverify", "--list", shim.toString()), "sbsigntool");
        assertEquals(list.lines().filter(l -> l.matches("signature \\d+")).count(), entries.size(), list);
        for (AuthenticodeSignatures.Entry e : entries) {
            assertEquals(1, e.signers().size());
            AuthenticodeSignatures.Signer s = e.signers().get(0);
            assertTrue(s.subject().contains("Microsoft"), s.subject());
            assertTrue(s.digestMatches());
            assertTrue(s.signatureValid());
            assertEquals(null, s.trusted());
            assertTrue(s.verified());
            String cn = s.subject().substring(s.subject().indexOf("CN=") + 3);
            assertTrue(list.contains("subject: ") && list.contains("CN=" + cn), "sbverify lists signer " + cn);
        }
    }

    /**
     * A UKI (with data after its last section) signed here by sbsign: the digest sbsign signed,
     * pesign's and ours agree, and the signature verifies against the signing certificate only.
     */
    @Test
    void sbsignedUkiVerifiesAgainstItsSigningCertificate() {
        Path uki = RealParts.makeUki(tmp.resolve("uki"));
        Path key = tmp.resolve("db.key");
        Path crt = tmp.resolve("db.crt");
        RealParts.run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                "-out", crt.toString(), "-days", "30", "-subj", "/CN=kexec-measured test db"), "openssl");
        Path signed = tmp.resolve("uki-signed.efi");
        RealParts.run(List.of("sbsign", "--key", key.toString(), "--cert", crt.toString(), "--output", signed.toString(), uki.toString()), "sbsigntool");
        AuthenticodeSignatures.Signer s = onlySigner(check(signed, crt));
        assertEquals("CN=kexec-measured test db", s.subject());
        assertEquals(RealParts.pesignHash(signed), s.signedImageDigest(), "sbsign signed what pesign computes");
        assertTrue(s.digestMatches());
        assertTrue(s.verified());
        assertFalse(onlySigner(check(signed, debianCa)).verified());
        assertEquals(0, run("inspect", signed.toString(), "--trust", crt.toString()));
        // the nested kernel is Debian-signed, but --trust judges the file given, not what it contains
        assertEquals(Main.EXIT_CHECK_FAILED, run("inspect", signed.toString(), "--trust", debianCa.toString()));
    }

    /**
     * A signer issued by an end-entity certificate (cA=FALSE, no keyCertSign) under a trusted CA must
     * not chain to that CA: openssl verify, the oracle, rejects the same chain.
     */
    @Test
    void endEntityCertificateCannotIssueSigners() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("ee-chain"));
        Path ext = d.resolve("ext.cnf");
        Files.writeString(ext, "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                + "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n");
        String[] names = {"ca", "leaf", "evil"};
        for (String n : names) {
            RealParts.run(List.of("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", d.resolve(n + ".key").toString(),
                    "-out", d.resolve(n + ".csr").toString(), "-subj", "/CN=test " + n), "openssl");
        }
        RealParts.run(List.of("openssl", "x509", "-req", "-in", d.resolve("ca.csr").toString(), "-signkey", d.resolve("ca.key").toString(),
                "-out", d.resolve("ca.pem").toString(), "-days", "30", "-extfile", ext.toString(), "-extensions", "ca"), "openssl");
        RealParts.run(List.of("openssl", "x509", "-req", "-in", d.resolve("leaf.csr").toString(), "-CA", d.resolve("ca.pem").toString(),
                "-CAkey", d.resolve("ca.key").toString(), "-CAcreateserial", "-out", d.resolve("leaf.pem").toString(), "-days", "30",
                "-extfile", ext.toString(), "-extensions", "leaf"), "openssl");
        RealParts.run(List.of("openssl", "x509", "-req", "-in", d.resolve("evil.csr").toString(), "-CA", d.resolve("leaf.pem").toString(),
                "-CAkey", d.resolve("leaf.key").toString(), "-CAcreateserial", "-out", d.resolve("evil.pem").toString(), "-days", "30",
                "-extfile", ext.toString(), "-extensions", "leaf"), "openssl");
        // oracle: OpenSSL's chain check refuses a non-CA issuer
        int opensslExit = RealParts.runAny(List.of("openssl", "verify", "-CAfile", d.resolve("ca.pem").toString(),
                "-untrusted", d.resolve("leaf.pem").toString(), d.resolve("evil.pem").toString()), "openssl").exit();
        assertTrue(opensslExit != 0, "openssl verify must reject the chain");

        Path evil = d.resolve("evil.efi");
        RealParts.run(List.of("sbsign", "--key", d.resolve("evil.key").toString(), "--cert", d.resolve("evil.pem").toString(),
                "--addcert", d.resolve("leaf.pem").toString(), "--output", evil.toString(), RealParts.SYSTEMD_BOOT.toString()), "sbsigntool");
        AuthenticodeSignatures.Signer s = onlySigner(check(evil, d.resolve("ca.pem")));
        assertTrue(s.signatureValid() && s.digestMatches(), "the signature itself is fine: " + s);
        assertFalse(s.verified(), "must not chain through an end-entity certificate: " + s);
        assertEquals(Main.EXIT_CHECK_FAILED, run("inspect", evil.toString(), "--trust", d.resolve("ca.pem").toString()));

        // control: the legitimate leaf signing directly does chain to the CA
        Path good = d.resolve("good.efi");
        RealParts.run(List.of("sbsign", "--key", d.resolve("leaf.key").toString(), "--cert", d.resolve("leaf.pem").toString(),
                "--output", good.toString(), RealParts.SYSTEMD_BOOT.toString()), "sbsigntool");
        assertTrue(onlySigner(check(good, d.resolve("ca.pem"))).verified());
        assertEquals(0, run("inspect", good.toString(), "--trust", d.resolve("ca.pem").toString()));
    }

    @Test
    void unsignedImageHasNoEntries() {
        assertTrue(check(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"), null).isEmpty());
    }

    @Test
    void cliTrustExitCodes() {
        String k = RealParts.kernel().toString();
        assertEquals(0, run("inspect", k, "--trust", debianCa.toString()));
        assertEquals(0, run("inspect", k, "--trust", unrelated.toString(), "--trust", debianCa.toString()), "repeatable --trust");
        assertEquals(Main.EXIT_CHECK_FAILED, run("inspect", k, "--trust", unrelated.toString()));
        assertEquals(Main.EXIT_CHECK_FAILED, run("inspect", RealParts.SYSTEMD_BOOT.toString(), "--trust", debianCa.toString()), "unsigned");
        assertEquals(Main.EXIT_BAD_INPUT, run("inspect", k, "--trust", RealParts.SYSTEMD_BOOT.toString()), "not a certificate");
    }

    private static int run(String... args) {
        return Main.execute(args, new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
    }
}
