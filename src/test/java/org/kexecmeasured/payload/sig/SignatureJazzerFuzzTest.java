package org.kexecmeasured.payload.sig;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.bouncycastle.cert.X509CertificateHolder;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.DataDirectory;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coverage-guided fuzz target (Jazzer) for Authenticode signature parsing and verification
 * ({@link AuthenticodeSignatures#check}, {@link AuthenticodePkcs7}). The fuzzer picks one of five
 * real signature blobs — Debian's GRUB and kernel signatures, shim's two Microsoft signatures (with
 * RFC 3161 timestamps as unsigned attributes) and an sbsign signature of systemd-boot made at setup,
 * whose image digest matches so the whole verification runs — patches its bytes (biased to the
 * first 2 KiB, where the ASN.1 headers are), may cut or extend it and edit the WIN_CERTIFICATE
 * header, and puts it as the only entry after systemd-boot. Only a result or BadInputException may
 * come out, and a verified entry must have a valid signature, a matching digest and a trusted chain.
 * The default test run replays the stored inputs; a 10-minute fuzzing run:
 * {@code mvn -B -ntp test -Pslow -Dfuzz=1 -Dtest='SignatureJazzerFuzzTest'}.
 */
class SignatureJazzerFuzzTest {

    record Seed(byte[] blob, List<X509CertificateHolder> anchors) {
    }

    private static byte[] image;
    private static int tableAt;
    private static int sizeDir;
    private static Map<HashAlg, byte[]> digests;
    private static List<Seed> seeds;

    @FuzzTest(maxDuration = "10m")
    void verifyMutatedSignature(FuzzedDataProvider data) throws IOException {
        if (seeds == null) setUp();
        Seed s = seeds.get(data.consumeInt(0, seeds.size() - 1));
        byte[] blob = s.blob.clone();
        int patches = data.consumeInt(0, 8);
        for (int i = 0; i < patches && blob.length > 0; i++) {
            int off = data.consumeBoolean() ? data.consumeInt(0, Math.min(2047, blob.length - 1)) : data.consumeInt(0, blob.length - 1);
            blob[off] = data.consumeByte();
        }
        int tail = data.consumeInt(0, 3);
        if (tail == 1) blob = Arrays.copyOf(blob, data.consumeInt(0, blob.length));
        if (tail == 2) {
            byte[] extra = data.consumeBytes(32);
            byte[] c = Arrays.copyOf(blob, blob.length + extra.length);
            System.arraycopy(extra, 0, c, blob.length, extra.length);
            blob = c;
        }
        int revision = data.consumeBoolean() ? AuthenticodeSignatures.WIN_CERT_REVISION_2_0 : data.consumeShort() & 0xffff;
        int type = data.consumeInt(0, 9) > 0 ? AuthenticodeSignatures.WIN_CERT_TYPE_PKCS_SIGNED_DATA : data.consumeShort() & 0xffff;
        long dwLength = 8L + blob.length + (data.consumeInt(0, 9) > 0 ? 0 : data.consumeInt(-16, 16));

        byte[] img = imageWith(blob, revision, type, dwLength);
        try {
            for (AuthenticodeSignatures.Entry e : AuthenticodeSignatures.check(PeFile.parse(img), digests, s.anchors)) {
                if (!e.verified()) continue;
                for (AuthenticodeSignatures.Signer g : e.signers()) {
                    assertTrue(g.signatureValid() && g.digestMatches() && Boolean.TRUE.equals(g.trusted()), "verified without grounds: " + g);
                }
            }
        } catch (BadInputException expected) {
            // allowed
        }
    }

    /** systemd-boot with {@code blob} as its only WIN_CERTIFICATE. */
    static byte[] imageWith(byte[] blob, int revision, int type, long dwLength) {
        int entry = 8 + blob.length;
        int table = entry + ((8 - (entry & 7)) & 7);
        byte[] img = Arrays.copyOf(image, tableAt + table);
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(tableAt, (int) dwLength).putShort(tableAt + 4, (short) revision).putShort(tableAt + 6, (short) type);
        System.arraycopy(blob, 0, img, tableAt + 8, blob.length);
        b.putInt(sizeDir, table);
        return img;
    }

    private static void setUp() throws IOException {
        Path dir = Files.createTempDirectory("jazzer-sig");
        Path boot = RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi");
        // systemd-boot signed here (the one seed whose image digest matches)
        RealParts.run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.resolve("k").toString(),
                "-out", dir.resolve("c.pem").toString(), "-days", "30", "-subj", "/CN=kexec-measured fuzz"), "openssl");
        Path signed = dir.resolve("boot-signed.efi");
        RealParts.run(List.of("sbsign", "--key", dir.resolve("k").toString(), "--cert", dir.resolve("c.pem").toString(),
                "--output", signed.toString(), boot.toString()), "sbsigntool");
        image = RealParts.read(boot);
        PeFile pe = PeFile.parse(image);
        DataDirectory sec = pe.dataDirectory(DataDirectory.SECURITY);
        assertTrue(sec != null && sec.size() == 0, "systemd-boot is unsigned");
        // the table goes after the file, 8-aligned (PE attribute certificates are quadword-aligned)
        tableAt = (image.length + 7) & ~7;
        image = Arrays.copyOf(image, tableAt);
        sizeDir = pe.certificateTableDirOffset() + 4;
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(pe.certificateTableDirOffset(), tableAt);
        digests = Authenticode.digests(PeFile.parse(image), EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512));

        List<X509CertificateHolder> debian = Certificates.load(SignatureMutationTest.debianCa(dir));
        List<Seed> l = new ArrayList<>();
        l.add(new Seed(blobs(RealParts.read(signed)).get(0), Certificates.load(dir.resolve("c.pem"))));
        l.add(new Seed(blobs(RealParts.read(RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed"))).get(0), debian));
        l.add(new Seed(blobs(RealParts.read(RealParts.kernel())).get(0), debian));
        for (byte[] shim : blobs(RealParts.read(RealParts.require(RealParts.SHIM_SIGNED, "shim-signed")))) l.add(new Seed(shim, List.of()));
        // the unmutated sbsign seed verifies here, so the fuzzer starts from a fully verifying signature
        Seed own = l.get(0);
        var entries = AuthenticodeSignatures.check(PeFile.parse(imageWith(own.blob, AuthenticodeSignatures.WIN_CERT_REVISION_2_0,
                AuthenticodeSignatures.WIN_CERT_TYPE_PKCS_SIGNED_DATA, 8L + own.blob.length)), digests, own.anchors);
        assertTrue(entries.size() == 1 && entries.get(0).verified(), "the sbsign seed verifies: " + entries);
        seeds = l;
    }

    /** The bCertificate bytes of every WIN_CERTIFICATE in a signed image. */
    static List<byte[]> blobs(byte[] img) {
        PeFile pe = PeFile.parse(img);
        DataDirectory d = pe.dataDirectory(DataDirectory.SECURITY);
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> out = new ArrayList<>();
        for (long p = d.virtualAddress(); p + 8 <= d.virtualAddress() + d.size(); ) {
            int len = b.getInt((int) p);
            out.add(Arrays.copyOfRange(img, (int) p + 8, (int) p + len));
            p += (len + 7) & ~7L;
        }
        return out;
    }
}
