package org.kexecmeasured.payload.sig;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.DataDirectory;
import org.kexecmeasured.payload.pe.PeFile;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Named damage to Debian's signed GRUB, each judged by {@code inspect --trust} (the Debian CA) and by
 * {@code osslsigncode verify} as the live oracle: we verify exactly when osslsigncode does, and
 * anything else is exit 1 (not verified) or 2 (not a signature), never 70. Before strict parsing,
 * an outer ContentInfo of type data verified (exit 0) and a certificate name with invalid UTF-8
 * ended as an internal error.
 */
class SignatureStrictnessTest {

    @TempDir
    static Path tmp;
    static byte[] grub;
    static int blobAt;
    static Path ca;

    @BeforeAll
    static void load() throws IOException {
        grub = RealParts.read(RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed"));
        blobAt = (int) PeFile.parse(grub).dataDirectory(DataDirectory.SECURITY).virtualAddress() + 8;
        ca = SignatureMutationTest.debianCa(tmp);
        // the offsets below are GRUB's signature layout; check the bytes they assume
        assertEquals((byte) 0x02, grub[blobAt + 14], "signedData OID ends at byte 14");
        assertEquals((byte) 0x31, grub[blobAt + 980], "signerInfos SET at byte 980");
        assertEquals('D', grub[blobAt + 270], "signer subject UTF8String at byte 268");
    }

    record Run(int rc, String err, boolean oracleAccepts) {
    }

    static Run judge(String name, int offset, int value, int revision) throws IOException {
        byte[] b = grub.clone();
        if (offset >= 0) b[blobAt + offset] = (byte) value;
        if (revision >= 0) ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putShort(blobAt - 4, (short) revision);
        Path f = tmp.resolve(name + ".efi");
        Files.write(f, b);
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"inspect", f.toString(), "--trust", ca.toString()}, new PrintWriter(new StringWriter()), new PrintWriter(err));
        boolean ossl = RealParts.runAny(List.of("osslsigncode", "verify", "-in", f.toString(), "-CAfile", ca.toString()), "osslsigncode").exit() == 0;
        assertTrue(rc == 0 || rc == Main.EXIT_CHECK_FAILED || rc == Main.EXIT_BAD_INPUT, name + ": exit " + rc + " " + err);
        assertEquals(ossl, rc == 0, name + ": verified exactly when osslsigncode verifies (ours exit " + rc + ": " + err + ")");
        assertTrue(err.toString().lines().count() <= 1, err.toString());
        return new Run(rc, err.toString(), ossl);
    }

    @Test
    void intactSignatureVerifies() throws IOException {
        assertEquals(0, judge("intact", -1, 0, -1).rc);
    }

    @Test
    void outerContentInfoOfTypeDataIsNoSignature() throws IOException {
        Run r = judge("outer-data", 14, 0x01, -1); // 1.2.840.113549.1.7.2 -> .1 (data)
        assertEquals(Main.EXIT_BAD_INPUT, r.rc);
        assertTrue(r.err.contains("contentType is 1.2.840.113549.1.7.1, not signedData"), r.err);
    }

    @Test
    void certificateNameThatIsNotUtf8IsBadInputNotAnInternalError() throws IOException {
        Run r = judge("utf8", 270, 0xff, -1);
        assertEquals(Main.EXIT_BAD_INPUT, r.rc);
        assertTrue(r.err.contains("subject name holds a string that does not decode"), r.err);
    }

    @Test
    void structuralDamageIsBadInput() throws IOException {
        assertEquals(Main.EXIT_BAD_INPUT, judge("signerinfos-sequence", 980, 0x30, -1).rc); // SET OF SignerInfo -> SEQUENCE
        assertEquals(Main.EXIT_BAD_INPUT, judge("certificates-tag", 137, 0xa2, -1).rc);     // [0] certificates -> [2]
        Run spc = judge("spc-other", 56, 0x0f, -1);                                          // SPC_INDIRECT_DATA -> SPC_PE_IMAGE_DATA
        assertTrue(spc.err.contains("is not SpcIndirectDataContent"), spc.err);
    }

    /** EDK2 takes the image hash algorithm from SignedData.digestAlgorithms at byte 32; osslsigncode refuses the mismatch too. */
    @Test
    void digestAlgorithmsThatDisagreeWithTheSignedDigestDoNotVerify() throws IOException {
        Run r = judge("digestalgs-sha384", 40, 0x02, -1); // sha256 -> sha384 in the unsigned digestAlgorithms set
        assertEquals(Main.EXIT_CHECK_FAILED, r.rc);
        assertFalse(r.oracleAccepts);
    }

    /** The digestEncryptionAlgorithm OID is not signed and OpenSSL ignores it; so do we. */
    @Test
    void digestEncryptionAlgorithmOidIsIgnoredAsOpensslIgnoresIt() throws IOException {
        Run r = judge("encalg-sha1rsa", 1201, 0x05, -1); // rsaEncryption -> sha1WithRSAEncryption
        assertEquals(0, r.rc, r.err);
    }

    /** wRevision other than 2.0: Windows and osslsigncode refuse it (EDK2 and shim do not look). */
    @Test
    void winCertificateRevisionOtherThan2IsNotVerified() throws IOException {
        for (int rev : new int[]{0x0100, 0x0000, 0xffff}) {
            Run r = judge("rev-" + rev, -1, 0, rev);
            assertEquals(Main.EXIT_CHECK_FAILED, r.rc, "revision 0x" + Integer.toHexString(rev));
        }
    }
}
