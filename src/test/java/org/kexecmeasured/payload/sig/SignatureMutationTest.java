package org.kexecmeasured.payload.sig;

import org.bouncycastle.cert.X509CertificateHolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.cli.Main;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.DataDirectory;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Damaged Authenticode signatures: a corpus of mutated signature blobs from the real signed Debian
 * binaries (GRUB and the kernel, signed by the Debian Secure Boot CA; shim's two Microsoft
 * signatures), each put back into its image as the only WIN_CERTIFICATE, judged by this tool and by
 * EDK2's verification sequence replayed with OpenSSL's command-line tools as the oracle:
 * <ol>
 *   <li>DxeImageVerificationLib's table walk (type PKCS_SIGNED_DATA, dwLength bounds) and
 *       HashPeImageByType (outer length byte {@code & 0x82}, the hash OID at byte 32);</li>
 *   <li>AuthenticodeVerify: {@code openssl pkcs7 -print} (d2i_PKCS7: must parse, be signedData, carry
 *       SPC_INDIRECT_DATA content), the SpcIndirectDataContent located by {@code openssl asn1parse},
 *       its length read as EDK2 reads it, its last bytes compared with the image hash
 *       ({@code pesign -h}, an independent Authenticode hasher);</li>
 *   <li>Pkcs7Verify: {@code openssl smime -verify -binary -content SPC -CAfile ANCHOR -partial_chain
 *       -no_check_time -purpose any}, the PKCS7_verify call EDK2 makes;</li>
 *   <li>for GRUB and the kernel also {@code osslsigncode verify -CAfile debian-ca.pem} (a third,
 *       independent Authenticode verifier; it cannot take shim's intermediate anchors).</li>
 * </ol>
 * The contract: whatever the oracle rejects we reject, nothing ends as an internal error (exit 70),
 * and the few blobs we reject although OpenSSL takes them are named by reason (non-DER encodings:
 * firmware verifiers are specified for DER; this tool refuses BER outright).
 */
class SignatureMutationTest {

    /**
     * Mutants per base image: 100 in the default run (400 blobs), 400 under {@code -Pslow} (1,600 blobs;
     * the slow profile sets {@code kexec-measured.signature-mutants}).
     */
    static final int PER_BASE = Integer.getInteger("kexec-measured.signature-mutants", 100);

    @TempDir
    static Path tmp;

    /** One signed image and the WIN_CERTIFICATE whose blob is mutated. */
    record Base(String name, byte[] image, long tableAt, int sizeDirOffset, int revision, int type, byte[] blob,
                Path anchorPem, List<X509CertificateHolder> anchors, Map<HashAlg, byte[]> digests,
                Map<HashAlg, byte[]> oracleHashes, boolean osslsigncode) {
    }

    /** A mutated WIN_CERTIFICATE: header fields and the bytes after the 8-byte header. */
    record Mutant(Base base, int id, String kind, int revision, int type, long dwLength, byte[] data) {
    }

    enum Verdict { ACCEPT, REJECT, BAD_INPUT, INTERNAL_ERROR }

    record Outcome(Mutant m, Verdict ours, boolean oracle, String oracleReason, String ourReason, Boolean ossl, boolean pkcs7Parses) {
    }

    @Test
    void mutatedSignaturesAgreeWithEdk2AsReplayedByOpenssl() throws Exception {
        List<Base> bases = bases();
        List<Mutant> corpus = new ArrayList<>();
        Random rnd = new Random(20261205);
        for (Base b : bases) {
            for (int i = 0; i < PER_BASE; i++) corpus.add(mutate(b, corpus.size(), rnd));
        }
        assertTrue(corpus.size() >= 400, "corpus of at least 400 blobs");

        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<Outcome>> futures = new ArrayList<>();
        for (Mutant m : corpus) futures.add(pool.submit(() -> judge(m)));
        List<Outcome> outcomes = new ArrayList<>();
        for (Future<Outcome> f : futures) outcomes.add(f.get());
        pool.shutdown();
        List<String> internalErrors = new ArrayList<>();
        for (Outcome o : outcomes) if (o.ours == Verdict.INTERNAL_ERROR) internalErrors.add(describe(o));

        int oracleRejects = 0, weRejectToo = 0, bothAccept = 0, onlyWeReject = 0, pkcs7Rejects = 0, osslRejects = 0;
        Map<String, Integer> stricterReasons = new TreeMap<>();
        Map<String, Integer> kinds = new TreeMap<>();
        List<String> falseAccepts = new ArrayList<>();
        for (Outcome o : outcomes) {
            kinds.merge(o.m.kind + (o.ours == Verdict.ACCEPT ? " accepted" : " rejected"), 1, Integer::sum);
            boolean weAccept = o.ours == Verdict.ACCEPT;
            if (!o.pkcs7Parses) pkcs7Rejects++;
            if (o.ossl != null && !o.ossl) osslRejects++;
            if (!o.oracle) {
                oracleRejects++;
                if (!weAccept) weRejectToo++;
                else falseAccepts.add(describe(o));
            } else if (weAccept) {
                bothAccept++;
            } else {
                onlyWeReject++;
                stricterReasons.merge(o.ourReason.replaceAll("0x[0-9a-f]+|\\d+", "N"), 1, Integer::sum);
            }
            if (!o.pkcs7Parses && weAccept) falseAccepts.add("openssl pkcs7 cannot parse it: " + describe(o));
            if (o.ossl != null && !o.ossl && weAccept) falseAccepts.add("osslsigncode rejects it: " + describe(o));
        }
        System.out.printf("signature mutation corpus: %d blobs from %d signatures; EDK2/OpenSSL oracle rejects %d, we reject %d of those; "
                        + "both accept %d; only we reject %d; openssl pkcs7 cannot parse %d; osslsigncode rejects %d%n",
                outcomes.size(), bases.size(), oracleRejects, weRejectToo, bothAccept, onlyWeReject, pkcs7Rejects, osslRejects);
        System.out.println("  by kind: " + kinds);
        System.out.println("  rejected by us only, by reason: " + stricterReasons);
        assertEquals(List.of(), internalErrors, "no mutant may end in an internal error (exit 70)");
        assertEquals(List.of(), falseAccepts, "every blob the oracle rejects is rejected here");
        assertTrue(bothAccept > 0, "the corpus holds blobs that still verify (mutations in unsigned, ignored places)");
        // where we are stricter than EDK2 it is for a named reason: the whole blob must be DER (EDK2 leaves
        // unsigned attributes such as timestamps opaque, Bouncy Castle parses them), and wRevision 0x0200
        List<String> unexplained = new ArrayList<>();
        for (Outcome o : outcomes) {
            if (o.oracle && o.ours != Verdict.ACCEPT && !(o.ourReason.startsWith("not a DER-encoded PKCS#7")
                    || o.ourReason.startsWith("the PKCS#7 is not DER") || o.ourReason.startsWith("wRevision"))) {
                unexplained.add(describe(o));
            }
        }
        assertEquals(List.of(), unexplained, "rejected here although EDK2 accepts, for no named reason");

        // the CLI on a sample, every accepted mutant included: exit 0 exactly when accepted, never 70
        int cli = 0;
        for (Outcome o : outcomes) {
            if (o.ours != Verdict.ACCEPT && o.m.id % 25 != 0) continue;
            Path f = tmp.resolve("cli-" + o.m.id + ".efi");
            Files.write(f, image(o.m));
            StringWriter err = new StringWriter();
            int rc = Main.execute(new String[]{"inspect", f.toString(), "--trust", o.m.base.anchorPem.toString()},
                    new PrintWriter(new StringWriter()), new PrintWriter(err));
            int expected = switch (o.ours) {
                case ACCEPT -> 0;
                case REJECT -> Main.EXIT_CHECK_FAILED;
                case BAD_INPUT -> Main.EXIT_BAD_INPUT;
                case INTERNAL_ERROR -> Main.EXIT_INTERNAL;
            };
            assertEquals(expected, rc, describe(o) + ": " + err);
            assertTrue(err.toString().lines().count() <= 1, err.toString());
            Files.delete(f);
            cli++;
        }
        assertTrue(cli > corpus.size() / 25, "CLI sample " + cli);
    }

    // ---- judging ----

    Outcome judge(Mutant m) throws IOException, InterruptedException {
        Verdict ours;
        String ourReason = null;
        try {
            PeFile pe = PeFile.parse(image(m));
            List<AuthenticodeSignatures.Entry> entries = AuthenticodeSignatures.check(pe, m.base.digests, m.base.anchors);
            AuthenticodeSignatures.Entry e = entries.isEmpty() ? null : entries.get(0);
            ours = e != null && e.verified() ? Verdict.ACCEPT : Verdict.REJECT;
            if (e == null) ourReason = "no entry";
            else if (e.problem() != null) ourReason = e.problem();
            else if (!e.signers().isEmpty()) ourReason = String.valueOf(e.signers().get(0).problem());
        } catch (BadInputException e) {
            ours = Verdict.BAD_INPUT;
            ourReason = e.getMessage().replaceFirst("^WIN_CERTIFICATE \\d+ at 0x[0-9a-f]+: ", "");
        } catch (RuntimeException | Error e) {
            ours = Verdict.INTERNAL_ERROR;
            ourReason = e.toString();
        }
        Path dir = Files.createTempDirectory(tmp, "m" + m.id);
        try {
            byte[] auth = Arrays.copyOf(m.data, (int) Math.max(0, Math.min(m.data.length, m.dwLength - 8)));
            Path blob = dir.resolve("blob.p7");
            Files.write(blob, auth);
            RealParts.Result print = RealParts.runAny(List.of("openssl", "pkcs7", "-inform", "DER", "-in", blob.toString(), "-print", "-noout"), "openssl");
            boolean parses = print.exit() == 0;
            String why = edk2(m, auth, print, blob, dir);
            Boolean ossl = null;
            // the third opinion where it matters (anything accepted) and on every tenth blob for its count
            if (m.base.osslsigncode && (why == null || ours == Verdict.ACCEPT || m.id % 10 == 0)) {
                Path img = dir.resolve("image.efi");
                Files.write(img, image(m));
                ossl = RealParts.runAny(List.of("osslsigncode", "verify", "-in", img.toString(), "-CAfile", m.base.anchorPem.toString()),
                        "osslsigncode").exit() == 0;
            }
            return new Outcome(m, ours, why == null, why, ourReason, ossl, parses);
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static final Pattern ASN1_LINE = Pattern.compile("^\\s*(\\d+):d=\\s*(\\d+)\\s+hl=\\s*(\\d+)\\s+l=\\s*(\\d+|inf)\\s+(prim|cons):\\s*(.*)$");

    /** EDK2's sequence with OpenSSL as the parser and verifier; null = accepted, else why not. */
    static String edk2(Mutant m, byte[] auth, RealParts.Result print, Path blob, Path dir) throws IOException {
        // DxeImageVerificationLib: the table walk over a one-entry table
        long tableSize = 8 + m.data.length + pad(8 + m.data.length);
        if (tableSize <= 8) return "table too small";
        if (m.dwLength > tableSize || tableSize - m.dwLength < pad(m.dwLength)) return "dwLength out of bounds";
        if (m.type != AuthenticodeSignatures.WIN_CERT_TYPE_PKCS_SIGNED_DATA) return "not PKCS_SIGNED_DATA";
        if (m.dwLength <= 8) return "empty";
        // HashPeImageByType
        if (auth.length > 1 && (auth[1] & 0x82) != 0x82) return "outer length not two-byte";
        HashAlg alg = null;
        String[] oids = {"2b0e03021a", "608648016503040204", "608648016503040201", "608648016503040202", "608648016503040203"};
        HashAlg[] algs = {HashAlg.SHA1, null, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512};
        int idx = -1;
        for (int i = 0; i < oids.length; i++) {
            byte[] o = Hex.parse(oids[i]);
            if (auth.length >= 32 + o.length && Arrays.equals(auth, 32, 32 + o.length, o, 0, o.length)) {
                idx = i;
                break;
            }
        }
        if (idx < 0) return "no hash OID at byte 32";
        alg = algs[idx];
        if (alg == null) return "SHA-224 has no hasher in EDK2";
        byte[] imageHash = m.base.oracleHashes.get(alg);
        // AuthenticodeVerify: d2i_PKCS7 and the types
        if (print.exit() != 0) return "d2i_PKCS7 fails";
        String[] lines = print.stdout().split("\n");
        if (lines.length < 2 || !lines[1].contains("(1.2.840.113549.1.7.2)")) return "not signedData";
        int contents = -1;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].strip().equals("contents:")) {
                contents = i;
                break;
            }
        }
        if (contents < 0 || contents + 3 >= lines.length) return "no contents";
        if (!lines[contents + 1].contains("(1.3.6.1.4.1.311.2.1.4)")) return "content type not SPC_INDIRECT_DATA";
        if (!lines[contents + 2].contains("d.other:")) return "detached or not ANY";
        Matcher first = ASN1_LINE.matcher(lines[contents + 3]);
        if (!first.matches() || !first.group(1).equals("0")) return "d.other not dumped";
        if (imageHash == null) {
            // SHA-384/512 named at byte 32 of a SHA-256 signature: the content's last 48/64 bytes would have
            // to equal an image hash nobody put there (pesign only hashes SHA-1/256)
            return alg.tpmName + " image hash cannot match";
        }
        // d.other is the element after OBJECT SPC_INDIRECT_DATA and its [0] header; OpenSSL's dump of it
        // (header length, length) confirms the place
        int spcAt = -1;
        byte[] oid = Hex.parse("060a2b060104018237020104");
        for (int i = 0; i + oid.length + 2 < auth.length && spcAt < 0; i++) {
            if (Arrays.equals(auth, i, i + oid.length, oid, 0, oid.length) && (auth[i + oid.length] & 0xff) == 0xa0) {
                int l0 = auth[i + oid.length + 1] & 0xff;
                spcAt = i + oid.length + 2 + ((l0 & 0x80) == 0 ? 0 : l0 & 0x7f);
            }
        }
        if (spcAt < 0 || spcAt + 4 > auth.length) return "SpcIndirectDataContent not found";
        int hl = Integer.parseInt(first.group(3));
        if (first.group(4).equals("inf")) return "SpcIndirectDataContent has an indefinite length";
        int dumpedLen = Integer.parseInt(first.group(4));
        // EDK2's own reading of the SEQUENCE length
        int a = auth[spcAt + 1] & 0xff;
        int size;
        int skip;
        if ((a & 0x80) == 0) {
            size = a & 0x7f;
            skip = 2;
        } else if ((a & 0x81) == 0x81) {
            size = auth[spcAt + 2] & 0xff;
            skip = 3;
        } else if ((a & 0x82) == 0x82) {
            size = (auth[spcAt + 2] & 0xff) << 8 | (auth[spcAt + 3] & 0xff);
            skip = 4;
        } else {
            return "SpcIndirectDataContent length form";
        }
        if (skip != hl || size != dumpedLen) return "EDK2 reads the SpcIndirectDataContent length differently from OpenSSL";
        int start = spcAt + skip;
        if (size < imageHash.length || start + size > auth.length) return "content shorter than the hash";
        if (!Arrays.equals(auth, start + size - imageHash.length, start + size, imageHash, 0, imageHash.length)) {
            return "image hash differs";
        }
        Path content = dir.resolve("spc.bin");
        Files.write(content, Arrays.copyOfRange(auth, start, start + size));
        // Pkcs7Verify: PKCS7_verify with the content, the db certificate, partial chain, no time, any purpose
        int rc = RealParts.runAny(List.of("openssl", "smime", "-verify", "-inform", "DER", "-binary", "-in", blob.toString(),
                "-content", content.toString(), "-CAfile", m.base.anchorPem.toString(), "-partial_chain", "-no_check_time",
                "-purpose", "any", "-out", dir.resolve("out").toString()), "openssl").exit();
        return rc == 0 ? null : "PKCS7_verify fails";
    }

    static String describe(Outcome o) {
        return String.format("%s mutant %d (%s): ours %s (%s), oracle %s (%s), osslsigncode %s", o.m.base.name, o.m.id, o.m.kind,
                o.ours, o.ourReason, o.oracle ? "accepts" : "rejects", o.oracleReason, o.ossl);
    }

    // ---- the corpus ----

    static byte[] image(Mutant m) {
        Base b = m.base;
        int entryLen = 8 + m.data.length;
        byte[] out = Arrays.copyOf(b.image, (int) b.tableAt + entryLen + pad(entryLen));
        ByteBuffer bb = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt((int) b.tableAt, (int) m.dwLength);
        bb.putShort((int) b.tableAt + 4, (short) m.revision);
        bb.putShort((int) b.tableAt + 6, (short) m.type);
        System.arraycopy(m.data, 0, out, (int) b.tableAt + 8, m.data.length);
        bb.putInt(b.sizeDirOffset, entryLen + pad(entryLen));
        return out;
    }

    static int pad(long n) {
        return (int) ((8 - (n & 7)) & 7);
    }

    static final byte[][][] OID_SWAPS = {
            {Hex.parse("2a864886f70d010702"), Hex.parse("2a864886f70d010701"), Hex.parse("2a864886f70d010703")},
            {Hex.parse("2b060104018237020104"), Hex.parse("2b06010401823702010f"), Hex.parse("2b06010401823702010c")},
            {Hex.parse("608648016503040201"), Hex.parse("608648016503040202"), Hex.parse("608648016503040203"), Hex.parse("608648016503040204")},
            {Hex.parse("2a864886f70d01010b"), Hex.parse("2a864886f70d010101"), Hex.parse("2a864886f70d010105")},
            {Hex.parse("2a864886f70d010903"), Hex.parse("2a864886f70d010904")},
    };

    static Mutant mutate(Base b, int id, Random r) {
        byte[] der = b.blob.clone();
        int rev = b.revision;
        int type = b.type;
        int pick = r.nextInt(100);
        String kind;
        if (pick < 35) {
            kind = "byte flip";
            int n = 1 + r.nextInt(3);
            for (int i = 0; i < n; i++) der[r.nextInt(der.length)] ^= (byte) (1 + r.nextInt(255));
        } else if (pick < 45) {
            kind = "truncation";
            der = Arrays.copyOf(der, r.nextInt(der.length));
        } else if (pick < 65) {
            kind = "length edit";
            der = editLength(der, r);
        } else if (pick < 80) {
            kind = "OID swap";
            der = swapOid(der, r);
        } else if (pick < 90) {
            kind = "WIN_CERTIFICATE header";
            int f = r.nextInt(3);
            if (f == 0) rev = new int[]{0x0100, 0x0000, 0xffff, 0x0201}[r.nextInt(4)];
            else if (f == 1) type = new int[]{0x0001, 0x0003, 0x0EF1, 0x0000}[r.nextInt(4)];
            else {
                long dw = 8L + der.length + new int[]{-1, -4, -8, -200, 1, 8, 64}[r.nextInt(7)];
                return new Mutant(b, id, kind, rev, type, Math.max(0, dw), der);
            }
        } else if (pick < 95) {
            kind = "trailing bytes";
            byte[] extra = new byte[1 + r.nextInt(16)];
            if (r.nextBoolean()) r.nextBytes(extra);
            byte[] d = Arrays.copyOf(der, der.length + extra.length);
            System.arraycopy(extra, 0, d, der.length, extra.length);
            der = d;
        } else {
            kind = "splice";
            int at = r.nextInt(der.length);
            int len = 1 + r.nextInt(Math.min(64, der.length - at));
            byte[] d = new byte[der.length - len];
            System.arraycopy(der, 0, d, 0, at);
            System.arraycopy(der, at + len, d, at, der.length - at - len);
            der = d;
        }
        return new Mutant(b, id, kind, rev, type, 8L + der.length, der);
    }

    /** A DER header in the blob: where the tag is, how many length bytes follow it, the length. */
    record Tlv(int at, int lenBytes, int length, boolean constructed) {
    }

    static void walk(byte[] b, int from, int to, List<Tlv> out, int depth) {
        int p = from;
        while (p + 2 <= to && depth < 40) {
            int tag = b[p] & 0xff;
            int l0 = b[p + 1] & 0xff;
            int lenBytes = (l0 & 0x80) == 0 ? 0 : l0 & 0x7f;
            if (lenBytes > 3 || p + 2 + lenBytes > to) return;
            int len = lenBytes == 0 ? l0 : 0;
            for (int i = 0; i < lenBytes; i++) len = len << 8 | (b[p + 2 + i] & 0xff);
            int body = p + 2 + lenBytes;
            if (body + len > to) return;
            boolean cons = (tag & 0x20) != 0;
            out.add(new Tlv(p, lenBytes, len, cons));
            if (cons) walk(b, body, body + len, out, depth + 1);
            p = body + len;
        }
    }

    static byte[] editLength(byte[] der, Random r) {
        List<Tlv> tlvs = new ArrayList<>();
        walk(der, 0, der.length, tlvs, 0);
        Tlv t = tlvs.get(r.nextInt(tlvs.size()));
        int mode = r.nextInt(4);
        byte[] d = der.clone();
        int lenAt = t.at + 1 + (t.lenBytes == 0 ? 0 : t.lenBytes);
        if (mode == 0 || mode == 1) {
            d[lenAt] += mode == 0 ? 1 : -1; // last length byte off by one
            return d;
        }
        if (mode == 2 && t.lenBytes == 0) {
            // the same length in non-minimal long form (BER, not DER): 0x81 LL
            byte[] out = new byte[d.length + 1];
            System.arraycopy(d, 0, out, 0, t.at + 1);
            out[t.at + 1] = (byte) 0x81;
            out[t.at + 2] = (byte) t.length;
            System.arraycopy(d, t.at + 2, out, t.at + 3, d.length - t.at - 2);
            return out;
        }
        if (mode == 3 && t.constructed) {
            // indefinite length with end-of-contents (BER, not DER)
            int body = t.at + 2 + t.lenBytes;
            byte[] out = new byte[d.length - t.lenBytes + 2];
            System.arraycopy(d, 0, out, 0, t.at + 1);
            out[t.at + 1] = (byte) 0x80;
            System.arraycopy(d, body, out, t.at + 2, t.length);
            int end = t.at + 2 + t.length;
            System.arraycopy(d, body + t.length, out, end + 2, d.length - body - t.length);
            return out;
        }
        d[lenAt] ^= (byte) (1 << r.nextInt(8));
        return d;
    }

    static byte[] swapOid(byte[] der, Random r) {
        for (int tries = 0; tries < 20; tries++) {
            byte[][] group = OID_SWAPS[r.nextInt(OID_SWAPS.length)];
            List<int[]> hits = new ArrayList<>();
            for (int g = 0; g < group.length; g++) {
                for (int i = 0; i + group[g].length <= der.length; i++) {
                    if (Arrays.equals(der, i, i + group[g].length, group[g], 0, group[g].length)) hits.add(new int[]{i, g});
                }
            }
            if (hits.isEmpty()) continue;
            int[] h = hits.get(r.nextInt(hits.size()));
            int to = r.nextInt(group.length - 1);
            if (to >= h[1]) to++;
            byte[] d = der.clone();
            System.arraycopy(group[to], 0, d, h[0], group[to].length);
            return d;
        }
        byte[] d = der.clone();
        d[r.nextInt(d.length)] ^= 0x01;
        return d;
    }

    // ---- the bases ----

    static List<Base> bases() throws IOException {
        Path debianCa = debianCa(tmp);
        List<X509CertificateHolder> debian = Certificates.load(debianCa);
        List<Base> out = new ArrayList<>();
        out.add(base("grub", RealParts.require(RealParts.GRUB_SIGNED, "grub-efi-amd64-signed"), 0, debianCa, debian, true));
        out.add(base("kernel", RealParts.kernel(), 0, debianCa, debian, true));
        Path shim = RealParts.require(RealParts.SHIM_SIGNED, "shim-signed");
        for (int e = 0; e < 2; e++) {
            // EDK2's db holds the Microsoft UEFI CA itself (not its root): the CA certificate embedded in the signature
            Path pem = embeddedCa(shim, e);
            out.add(base("shim#" + e, shim, e, pem, Certificates.load(pem), false));
        }
        return out;
    }

    static Base base(String name, Path file, int entry, Path anchorPem, List<X509CertificateHolder> anchors, boolean ossl) throws IOException {
        byte[] img = Files.readAllBytes(file);
        PeFile pe = PeFile.parse(img);
        DataDirectory dir = pe.dataDirectory(DataDirectory.SECURITY);
        assertEquals(img.length, dir.virtualAddress() + dir.size(), name + ": the certificate table ends the file");
        ByteBuffer bb = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        long p = dir.virtualAddress();
        for (int i = 0; i < entry; i++) p += (bb.getInt((int) p) + 7) & ~7L;
        int len = bb.getInt((int) p);
        byte[] blob = Arrays.copyOfRange(img, (int) p + 8, (int) p + len);
        Map<HashAlg, byte[]> digests = Authenticode.digests(pe, EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512));
        Map<HashAlg, byte[]> oracle = new EnumMap<>(HashAlg.class);
        oracle.put(HashAlg.SHA256, Hex.parse(RealParts.pesignHash(file)));
        oracle.put(HashAlg.SHA1, Hex.parse(RealParts.pesignHash(file, "sha1")));
        return new Base(name, img, dir.virtualAddress(), pe.certificateTableDirOffset() + 4, bb.getShort((int) p + 4) & 0xffff,
                bb.getShort((int) p + 6) & 0xffff, blob, anchorPem, anchors, digests, oracle, ossl);
    }


    /** The Debian Secure Boot CA from shim's .vendor_cert (as SignatureTest takes it), as PEM in {@code dir}. */
    static Path debianCa(Path dir) throws IOException {
        Path pem = dir.resolve("debian-ca.pem");
        if (Files.exists(pem)) return pem;
        Path vc = dir.resolve("vendor_cert.bin");
        RealParts.run(List.of("objcopy", "-O", "binary", "--only-section=.vendor_cert", RealParts.SHIM_SIGNED.toString(), vc.toString()), "binutils");
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(vc)).order(ByteOrder.LITTLE_ENDIAN);
        Path der = dir.resolve("debian-ca.der");
        byte[] all = b.array();
        Files.write(der, Arrays.copyOfRange(all, b.getInt(8), b.getInt(8) + b.getInt(0)));
        RealParts.run(List.of("openssl", "x509", "-inform", "DER", "-in", der.toString(), "-out", pem.toString()), "openssl");
        return pem;
    }

    /** The CA certificate (not the leaf) embedded in shim's signature {@code entry}, via openssl pkcs7 -print_certs. */
    static Path embeddedCa(Path shim, int entry) throws IOException {
        byte[] img = Files.readAllBytes(shim);
        PeFile pe = PeFile.parse(img);
        DataDirectory dir = pe.dataDirectory(DataDirectory.SECURITY);
        ByteBuffer bb = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        long p = dir.virtualAddress();
        for (int i = 0; i < entry; i++) p += (bb.getInt((int) p) + 7) & ~7L;
        Path blob = tmp.resolve("shim" + entry + ".p7");
        Files.write(blob, Arrays.copyOfRange(img, (int) p + 8, (int) p + bb.getInt((int) p)));
        String certs = RealParts.run(List.of("openssl", "pkcs7", "-inform", "DER", "-in", blob.toString(), "-print_certs"), "openssl");
        for (String block : certs.split("(?=subject=)")) {
            String subject = block.lines().findFirst().orElse("").strip();
            if (subject.endsWith("CN = Microsoft Corporation UEFI CA 2011") || subject.endsWith("CN = Microsoft UEFI CA 2023")) {
                Path pem = tmp.resolve("shim" + entry + "-ca.pem");
                Files.writeString(pem, block.substring(block.indexOf("-----BEGIN")), StandardCharsets.US_ASCII);
                return pem;
            }
        }
        fail("no Microsoft UEFI CA certificate in shim's signature " + entry + ": " + certs);
        return null;
    }
}
