package org.kexecmeasured.payload.sig;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1InputStream;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.ASN1TaggedObject;
import org.bouncycastle.asn1.BERTags;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.cms.SignedData;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * One Authenticode signature, the bCertificate of a WIN_CERTIFICATE, parsed strictly and
 * completely before anything is verified, so that a damaged blob is refused here, inside the
 * error handling, and never half-parsed later (Bouncy Castle builds many objects on first access).
 *
 * <p>What is accepted follows EDK2's verifier (SecurityPkg DxeImageVerificationLib
 * {@code HashPeImageByType}, CryptoPkg {@code AuthenticodeVerify} and {@code Pkcs7Verify}, which
 * call OpenSSL's {@code d2i_PKCS7} and {@code PKCS7_verify}):
 * <ul>
 *   <li>one DER object: its bytes equal its DER re-encoding (a BER or otherwise non-canonical
 *       encoding is refused); bytes after it up to dwLength are ignored, as d2i_PKCS7 ignores them
 *       (signers pad to 8 bytes);</li>
 *   <li>the outer ContentInfo's contentType is signedData (1.2.840.113549.1.7.2), its content
 *       present; the SignedData's encapsulated contentType is SPC_INDIRECT_DATA_OBJID
 *       (1.3.6.1.4.1.311.2.1.4) with the content present (not detached);</li>
 *   <li>SpcIndirectDataContent is exactly {data, messageDigest DigestInfo} and the DigestInfo
 *       exactly {digestAlgorithm, digest}: EDK2 compares the <em>last</em> bytes of the content
 *       with the image hash, which are then the digest;</li>
 *   <li>EDK2 picks the image hash algorithm by the OID at byte 32 of the blob, where
 *       SignedData.digestAlgorithms' first entry lies when the outer length has two bytes
 *       ({@code (blob[1] & 0x82) == 0x82}); it must be SHA-1/256/384/512 and the DigestInfo's
 *       algorithm, else EDK2 cannot match the digest;</li>
 *   <li>at least one SignerInfo, each identified by issuer and serial number (PKCS#7 v1.5 as
 *       Authenticode and OpenSSL's PKCS7 have it).</li>
 * </ul>
 * Structural defects are bad input; the EDK2 byte-32 rule only makes the signature unverified
 * ({@link #edk2Problem}), as EDK2 then skips the entry.
 */
final class AuthenticodePkcs7 {

    static final String SIGNED_DATA = "1.2.840.113549.1.7.2";
    static final String SPC_INDIRECT_DATA = AuthenticodeSignatures.SPC_INDIRECT_DATA_OBJID;
    /** Where EDK2 reads the digest algorithm OID's contents (after 30 82 LL LL 06 09 … A0 82 LL LL 30 82 LL LL 02 01 01 31 LL 30 LL 06 LL). */
    static final int EDK2_HASH_OID_OFFSET = 32;

    /** The parsed signature; every field is read eagerly in {@link #parse}. */
    record Parsed(CMSSignedData cms, List<SignerInformation> signers, List<X509CertificateHolder> certificates,
                  String digestOid, HashAlg digestAlg, byte[] signedDigest, int derLength, int trailingBytes,
                  String edk2Problem) {
    }

    private AuthenticodePkcs7() {
    }

    /** {@code where}: "WIN_CERTIFICATE 0 at 0x3fd000", the prefix of every message. */
    static Parsed parse(byte[] blob, String where) {
        ASN1Primitive obj = readOneDerObject(blob, where);
        byte[] der = encodeDer(obj, where);
        if (der.length > blob.length) {
            throw bad(where, "the PKCS#7 is not DER: its DER re-encoding is longer than the " + blob.length + " bytes given");
        }
        int diff = Arrays.mismatch(der, 0, der.length, blob, 0, der.length);
        if (diff >= 0) {
            throw bad(where, String.format("the PKCS#7 is not DER: its encoding differs from the DER re-encoding at byte %d "
                    + "(0x%02x, DER has 0x%02x); firmware verifiers take DER only", diff, blob[diff] & 0xff, der[diff] & 0xff));
        }
        try {
            ASN1Sequence outer = sequence(obj, "the outer ContentInfo", where);
            if (outer.size() != 2) throw bad(where, "the outer ContentInfo has " + outer.size() + " elements, not 2 (contentType, content)");
            ASN1ObjectIdentifier outerType = oid(outer.getObjectAt(0), "the outer ContentInfo's contentType", where);
            if (!SIGNED_DATA.equals(outerType.getId())) {
                throw bad(where, "the outer ContentInfo's contentType is " + outerType.getId() + ", not signedData (" + SIGNED_DATA + ")");
            }
            explicitZero(outer.getObjectAt(1), "the outer ContentInfo's content", where);
            ContentInfo ci = ContentInfo.getInstance(outer);
            SignedData sd = SignedData.getInstance(ci.getContent());
            ContentInfo encap = sd.getEncapContentInfo();
            if (!SPC_INDIRECT_DATA.equals(encap.getContentType().getId())) {
                throw bad(where, "content type " + encap.getContentType().getId() + " is not SpcIndirectDataContent (" + SPC_INDIRECT_DATA + ")");
            }
            if (encap.getContent() == null) throw bad(where, "the SpcIndirectDataContent is detached (absent)");
            ASN1Sequence indirect = sequence(encap.getContent(), "SpcIndirectDataContent", where);
            if (indirect.size() != 2) {
                throw bad(where, "SpcIndirectDataContent has " + indirect.size() + " elements, not 2 (data, messageDigest)");
            }
            sequence(indirect.getObjectAt(0), "SpcIndirectDataContent.data", where);
            ASN1Sequence digestInfo = sequence(indirect.getObjectAt(1), "SpcIndirectDataContent.messageDigest (DigestInfo)", where);
            if (digestInfo.size() != 2) throw bad(where, "the DigestInfo has " + digestInfo.size() + " elements, not 2");
            AlgorithmIdentifier alg = AlgorithmIdentifier.getInstance(digestInfo.getObjectAt(0));
            if (!(digestInfo.getObjectAt(1) instanceof ASN1OctetString os)) {
                throw bad(where, "the DigestInfo's digest is not an OCTET STRING");
            }
            String digestOid = alg.getAlgorithm().getId();
            HashAlg digestAlg = AuthenticodeSignatures.hashForOid(digestOid);
            byte[] signedDigest = os.getOctets();

            CMSSignedData cms = new CMSSignedData(ci);
            // everything verification and the report touch later, built now (Bouncy Castle parses on first access)
            List<SignerInformation> signers = new ArrayList<>(cms.getSignerInfos().getSigners());
            for (SignerInformation si : signers) {
                if (si.getSID().getIssuer() == null || si.getSID().getSerialNumber() == null) {
                    throw bad(where, "a SignerInfo names its certificate by subjectKeyIdentifier; Authenticode (PKCS#7 v1.5) uses issuer and serial number");
                }
                requireName(si.getSID().getIssuer(), "a SignerInfo's issuer name", where);
                si.getDigestAlgOID();
                si.getEncryptionAlgOID();
                si.getSignature();
                si.getSignedAttributes();
                si.getUnsignedAttributes();
                si.toASN1Structure();
            }
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> certs = cms.getCertificates().getMatches(null);
            List<X509CertificateHolder> certificates = new ArrayList<>(certs);
            for (X509CertificateHolder c : certificates) {
                requireName(c.getSubject(), "a certificate's subject name", where);
                requireName(c.getIssuer(), "a certificate's issuer name", where);
                c.getSerialNumber();
                c.getExtensions();
                c.getSubjectPublicKeyInfo().parsePublicKey();
                c.getSignatureAlgorithm();
            }
            String edk2 = edk2HashProblem(blob, digestAlg);
            return new Parsed(cms, signers, certificates, digestOid, digestAlg, signedDigest, der.length,
                    blob.length - der.length, edk2);
        } catch (BadInputException e) {
            throw e;
        } catch (CMSException | IOException | RuntimeException | StackOverflowError e) {
            throw bad(where, "not a well-formed PKCS#7 SignedData (" + describe(e) + ")");
        }
    }

    /** The first DER object; anything after it is the caller's business (trailing padding). */
    private static ASN1Primitive readOneDerObject(byte[] blob, String where) {
        if (blob.length < 2) throw bad(where, "not a DER-encoded PKCS#7 SignedData (" + blob.length + " bytes)");
        try (ASN1InputStream in = new ASN1InputStream(blob)) {
            ASN1Primitive p = in.readObject();
            if (p == null) throw bad(where, "not a DER-encoded PKCS#7 SignedData (no ASN.1 object)");
            return p;
        } catch (BadInputException e) {
            throw e;
        } catch (IOException | RuntimeException | StackOverflowError e) {
            // Bouncy Castle's messages name Java classes; say what is wrong in format terms instead
            throw bad(where, "not a DER-encoded PKCS#7 SignedData (" + blob.length + " bytes: " + describe(e) + ")");
        }
    }

    private static byte[] encodeDer(ASN1Primitive obj, String where) {
        try {
            return obj.getEncoded(ASN1Encoding.DER);
        } catch (IOException | RuntimeException | StackOverflowError e) {
            throw bad(where, "not a DER-encoded PKCS#7 SignedData (" + describe(e) + ")");
        }
    }

    /**
     * EDK2's HashPeImageByType: a two-byte outer length (it tests {@code blob[1] & 0x82}) and a
     * known hash OID's contents at byte 32; otherwise EDK2 skips the signature. Null when EDK2 would
     * hash the image with the DigestInfo's algorithm.
     */
    static String edk2HashProblem(byte[] blob, HashAlg digestAlg) {
        if ((blob[1] & 0x82) != 0x82) {
            return String.format("EDK2 takes only a two-byte outer length (0x82), this signature has length byte 0x%02x", blob[1] & 0xff);
        }
        HashAlg at32 = null;
        for (HashAlg a : List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512)) {
            byte[] oid = oidContents(a);
            if (blob.length >= EDK2_HASH_OID_OFFSET + oid.length
                    && Arrays.equals(blob, EDK2_HASH_OID_OFFSET, EDK2_HASH_OID_OFFSET + oid.length, oid, 0, oid.length)) {
                at32 = a;
                break;
            }
        }
        if (at32 == null) {
            return "EDK2 finds no SHA-1/256/384/512 OID at byte 32 (SignedData.digestAlgorithms), so it skips this signature";
        }
        if (at32 != digestAlg) {
            return "SignedData.digestAlgorithms names " + at32.tpmName + " but the signed image digest is "
                    + (digestAlg == null ? "of an unsupported algorithm" : digestAlg.tpmName) + ": EDK2 compares the " + at32.tpmName + " image hash and fails";
        }
        return null;
    }

    /** The OID's DER contents octets (what EDK2's mHashOidValue table holds). */
    private static byte[] oidContents(HashAlg a) {
        String oid = switch (a) {
            case SHA1 -> "1.3.14.3.2.26";
            case SHA256 -> "2.16.840.1.101.3.4.2.1";
            case SHA384 -> "2.16.840.1.101.3.4.2.2";
            case SHA512 -> "2.16.840.1.101.3.4.2.3";
            default -> throw new IllegalArgumentException(a.name());
        };
        try {
            byte[] der = new ASN1ObjectIdentifier(oid).getEncoded(ASN1Encoding.DER);
            return Arrays.copyOfRange(der, 2, der.length);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Universal tags OpenSSL's X509_NAME_ENTRY takes as a value (ASN1_PRINTABLE: the string types,
     * BIT STRING, SEQUENCE and the tags its tag2bit table maps to B_ASN1_UNKNOWN). Bouncy Castle
     * decodes names only when they are used; d2i_X509 decodes them at once (and converts their
     * strings to UTF-8, failing on invalid ones), so a certificate damaged there is refused here.
     */
    private static final java.util.Set<Integer> NAME_VALUE_TAGS = java.util.Set.of(
            3, 7, 8, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 28, 29, 30);

    private static void requireName(X500Name name, String what, String where) {
        for (RDN rdn : name.getRDNs()) {
            for (AttributeTypeAndValue atv : rdn.getTypesAndValues()) {
                int tag = -1;
                try {
                    byte[] enc = atv.getValue().toASN1Primitive().getEncoded();
                    if ((enc[0] & 0xc0) == 0 && (enc[0] & 0x1f) != 0x1f) tag = enc[0] & 0x1f;
                } catch (IOException e) {
                    tag = -1;
                }
                if (!NAME_VALUE_TAGS.contains(tag)) {
                    throw bad(where, what + " holds an attribute value of a type X.509 names do not take");
                }
            }
        }
        try {
            name.toString(); // every string value decodes (UTF-8, BMP, universal)
        } catch (RuntimeException e) {
            throw bad(where, what + " holds a string that does not decode");
        }
    }

    private static ASN1Sequence sequence(ASN1Encodable e, String what, String where) {
        ASN1Primitive p = e == null ? null : e.toASN1Primitive();
        if (!(p instanceof ASN1Sequence s)) throw bad(where, what + " is not a SEQUENCE");
        return s;
    }

    private static ASN1ObjectIdentifier oid(ASN1Encodable e, String what, String where) {
        if (!(e instanceof ASN1ObjectIdentifier o)) throw bad(where, what + " is not an OBJECT IDENTIFIER");
        return o;
    }

    private static void explicitZero(ASN1Encodable e, String what, String where) {
        if (!(e instanceof ASN1TaggedObject t) || t.getTagClass() != BERTags.CONTEXT_SPECIFIC || t.getTagNo() != 0 || !t.isExplicit()) {
            throw bad(where, what + " is not [0] EXPLICIT");
        }
    }

    /**
     * The parser's own words for stream errors ("out of bounds length found"); other Bouncy Castle
     * messages name Java classes, so those become "malformed structure".
     */
    private static String describe(Throwable e) {
        if (e instanceof StackOverflowError) return "nested too deeply";
        String m = e instanceof IOException ? e.getMessage() : null;
        if (m == null || m.isBlank() || m.contains("org.bouncycastle") || m.contains("java.")) return "malformed structure";
        m = m.replace('\n', ' ');
        return m.length() > 160 ? m.substring(0, 160) + "…" : m;
    }

    private static BadInputException bad(String where, String what) {
        return new BadInputException(where + ": " + what);
    }
}
