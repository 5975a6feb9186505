package org.kexecmeasured.payload.sig;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSSignatureAlgorithmNameGenerator;
import org.bouncycastle.cms.DefaultCMSSignatureAlgorithmNameGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.Le;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.DataDirectory;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Embedded Authenticode signatures: the attribute certificate table (WIN_CERTIFICATE entries,
 * 8-byte aligned, located by data directory 4 as a file offset) holding PKCS#7 SignedData whose
 * content is SpcIndirectDataContent with the signed image digest.
 *
 * <p>An entry is <em>verified</em> when EDK2's verifier would accept it against the given trust
 * anchors: a PKCS_SIGNED_DATA entry (or EFI_GUID with EFI_CERT_TYPE_PKCS7_GUID, which EDK2 takes
 * too) whose blob passes the strict parse of {@link AuthenticodePkcs7}, and <em>every</em>
 * SignerInfo verified (OpenSSL's PKCS7_verify, which EDK2 calls, fails when any signer fails). A
 * signer is verified when its SignerInfo signature checks with its certificate, the signed image
 * digest equals the computed one, and (when trust anchors are given) the signer certificate chains
 * to one of them. Like UEFI's Pkcs7Verify, any certificate on the chain may be the anchor and
 * validity periods are not enforced (firmware has no trusted clock). One rule is stricter than
 * EDK2 and shim, which ignore it: wRevision must be 0x0200 (WIN_CERT_REVISION_2_0), as Windows and
 * osslsigncode require.
 */
public final class AuthenticodeSignatures {

    public static final int WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
    public static final int WIN_CERT_TYPE_EFI_GUID = 0x0EF1;
    public static final int WIN_CERT_REVISION_2_0 = 0x0200;
    /** WIN_CERTIFICATE_UEFI_GUID.CertType of a PKCS#7 SignedData (UEFI spec, EFI_CERT_TYPE_PKCS7_GUID). */
    public static final Guid EFI_CERT_TYPE_PKCS7_GUID = Guid.parse("4aafd29d-68df-49ee-8aa9-347d375665a7");
    public static final String SPC_INDIRECT_DATA_OBJID = "1.3.6.1.4.1.311.2.1.4";
    /** Blobs above this are not parsed (real ones are 1.5-10 KiB; EDK2 reads the hash OID assuming a 2-byte length, < 64 KiB). */
    static final int MAX_PKCS7 = 1 << 20;

    public record Signer(String subject, String issuer, String serial, String digestAlgorithm,
                         String signedImageDigest, String computedImageDigest, boolean digestMatches,
                         boolean signatureValid, Boolean trusted, String trustAnchor, List<String> chain,
                         String problem) {
        /** Signature valid, digest matches, and chained to a trust anchor when anchors were given. */
        public boolean verified() {
            return signatureValid && digestMatches && (trusted == null || trusted);
        }
    }

    /**
     * One WIN_CERTIFICATE. {@code problem}: why the entry as a whole cannot verify (null when only
     * its signers decide); {@code trailingBytes}: bytes after the DER object up to dwLength.
     */
    public record Entry(int index, long offset, long length, int revision, int certificateType, List<Signer> signers,
                        String problem, int trailingBytes) {
        public String typeName() {
            return switch (certificateType) {
                case WIN_CERT_TYPE_PKCS_SIGNED_DATA -> "PKCS_SIGNED_DATA";
                case WIN_CERT_TYPE_EFI_GUID -> "EFI_GUID";
                case 0x0001 -> "X509";
                default -> String.format("0x%04x", certificateType);
            };
        }

        /** What EDK2 accepts: a signature entry with at least one SignerInfo, all of them verified. */
        public boolean verified() {
            return problem == null && !signers.isEmpty() && signers.stream().allMatch(Signer::verified);
        }
    }

    private AuthenticodeSignatures() {
    }

    /**
     * Parses and checks every signature. {@code computed} may hold precomputed image digests;
     * missing ones are computed. {@code trust} empty = no chain check (trusted is null).
     */
    public static List<Entry> check(PeFile pe, Map<HashAlg, byte[]> computed, Collection<X509CertificateHolder> trust) {
        DataDirectory dir = pe.dataDirectory(DataDirectory.SECURITY);
        if (dir == null || dir.size() == 0) {
            if (dir != null && dir.virtualAddress() != 0) {
                throw new BadInputException(String.format("certificate table at 0x%x has size 0", dir.virtualAddress()));
            }
            return List.of();
        }
        long start = dir.virtualAddress();
        long end = start + dir.size();
        if (start < pe.sizeOfHeaders() || end > pe.fileSize()) {
            throw new BadInputException(String.format(
                    "certificate table [0x%x, 0x%x) lies outside the file's data (headers end at 0x%x, file is %d bytes)",
                    start, end, pe.sizeOfHeaders(), pe.fileSize()));
        }
        Map<HashAlg, byte[]> digests = new EnumMap<>(HashAlg.class);
        if (computed != null) digests.putAll(computed);
        ByteBuffer b = pe.data();
        List<Entry> entries = new ArrayList<>();
        long p = start;
        int index = 0;
        while (p + 8 <= end) {
            long len = Le.u32(b, (int) p);
            int rev = Le.u16(b, (int) p + 4);
            int type = Le.u16(b, (int) p + 6);
            if (len < 8 || p + len > end) {
                throw new BadInputException(String.format("WIN_CERTIFICATE %d at 0x%x: dwLength %d does not fit in the certificate table (ends at 0x%x)",
                        index, p, len, end));
            }
            String where = String.format("WIN_CERTIFICATE %d at 0x%x", index, p);
            if (rev != WIN_CERT_REVISION_2_0) {
                // EDK2 and shim do not look at wRevision; Windows and osslsigncode require 2.0: the stricter rule
                entries.add(new Entry(index, p, len, rev, type, List.of(),
                        String.format("wRevision 0x%04x is not WIN_CERT_REVISION_2_0 (0x0200)", rev), 0));
                p += (len + 7) & ~7L;
                index++;
                continue;
            }
            long dataAt = p + 8;
            boolean pkcs7 = type == WIN_CERT_TYPE_PKCS_SIGNED_DATA;
            if (type == WIN_CERT_TYPE_EFI_GUID && len >= 8 + 16) {
                pkcs7 = Guid.read(pe.read(p + 8, 16), 0).equals(EFI_CERT_TYPE_PKCS7_GUID);
                dataAt = p + 8 + 16;
            }
            Entry e;
            if (!pkcs7) {
                e = new Entry(index, p, len, rev, type, List.of(), "not a PKCS#7 signature (EDK2 skips this type)", 0);
            } else if (p + len - dataAt > MAX_PKCS7) {
                e = new Entry(index, p, len, rev, type, List.of(), String.format("%d bytes of signature, more than the %d KiB checked",
                        p + len - dataAt, MAX_PKCS7 >> 10), 0);
            } else {
                AuthenticodePkcs7.Parsed sig = AuthenticodePkcs7.parse(pe.read(dataAt, p + len - dataAt), where);
                e = new Entry(index, p, len, rev, type, signers(pe, sig, digests, trust), entryProblem(sig), sig.trailingBytes());
            }
            entries.add(e);
            p += (len + 7) & ~7L;
            index++;
        }
        return entries;
    }

    private static String entryProblem(AuthenticodePkcs7.Parsed sig) {
        if (sig.signers().isEmpty()) return "no SignerInfo (PKCS7_verify refuses a signature without signers)";
        return sig.edk2Problem();
    }

    private static List<Signer> signers(PeFile pe, AuthenticodePkcs7.Parsed sig, Map<HashAlg, byte[]> digests,
                                        Collection<X509CertificateHolder> trust) {
        HashAlg alg = sig.digestAlg();
        byte[] signed = sig.signedDigest();
        byte[] ours = alg == null ? null : digests.computeIfAbsent(alg, a -> Authenticode.digest(pe, a));
        boolean match = ours != null && Arrays.equals(ours, signed);
        List<X509CertificateHolder> embedded = sig.certificates();
        List<Signer> out = new ArrayList<>();
        for (SignerInformation si : sig.signers()) {
            try {
                out.add(signer(si, alg, signed, ours, match, sig.digestOid(), embedded, trust));
            } catch (RuntimeException e) {
                // Bouncy Castle decodes names and extensions on first use; a value damaged there makes
                // the signer unverifiable, never an internal error (and never verified)
                out.add(new Signer(name(si.getSID().getIssuer()) + " (serial " + si.getSID().getSerialNumber() + ")",
                        name(si.getSID().getIssuer()), String.valueOf(si.getSID().getSerialNumber()),
                        alg != null ? alg.tpmName : sig.digestOid(), org.kexecmeasured.util.Hex.of(signed),
                        ours != null ? org.kexecmeasured.util.Hex.of(ours) : null, match, false, trust == null || trust.isEmpty() ? null : false,
                        null, List.of(), "signer cannot be checked: a certificate field does not decode"));
            }
        }
        return out;
    }

    private static Signer signer(SignerInformation si, HashAlg alg, byte[] signed, byte[] ours, boolean match, String digestOid,
                                 List<X509CertificateHolder> embedded, Collection<X509CertificateHolder> trust) {
        X509CertificateHolder cert = null;
        for (X509CertificateHolder c : embedded) {
            // as OpenSSL's PKCS7_get0_signers: issuer name and serial number
            if (sameName(si.getSID().getIssuer(), c.getIssuer()) && si.getSID().getSerialNumber().equals(c.getSerialNumber())) {
                cert = c;
                break;
            }
        }
        String problem = null;
        boolean sigValid = false;
        if (cert == null) {
            problem = "signer certificate not embedded";
        } else {
            try {
                PublicKey key = new JcaX509CertificateConverter().getCertificate(cert).getPublicKey();
                // verify with the key, not the certificate: firmware does not check validity periods
                sigValid = si.verify(verifier(key));
                if (!sigValid) problem = "SignerInfo signature does not verify";
            } catch (Exception e) {
                problem = "SignerInfo signature does not verify" + reason(e);
            }
        }
        if (!match && problem == null) {
            problem = alg == null ? "unsupported image digest algorithm " + digestOid : "signed image digest differs from the computed one";
        }
        Boolean trusted = null;
        String anchor = null;
        List<String> chain = new ArrayList<>();
        if (cert != null) {
            ChainResult cr = chain(cert, embedded, trust);
            chain = cr.chain;
            if (trust != null && !trust.isEmpty()) {
                trusted = cr.anchor != null;
                anchor = cr.anchor;
                if (!trusted && problem == null) problem = "signer does not chain to a trusted certificate";
            }
        }
        return new Signer(
                cert != null ? name(cert.getSubject()) : name(si.getSID().getIssuer()) + " (serial " + si.getSID().getSerialNumber() + ")",
                cert != null ? name(cert.getIssuer()) : name(si.getSID().getIssuer()),
                cert != null ? cert.getSerialNumber().toString(16) : String.valueOf(si.getSID().getSerialNumber()),
                alg != null ? alg.tpmName : digestOid,
                org.kexecmeasured.util.Hex.of(signed),
                ours != null ? org.kexecmeasured.util.Hex.of(ours) : null,
                match, sigValid, trusted, anchor, chain, problem);
    }

    /**
     * A SignerInfo verifier that, like OpenSSL's PKCS7_signatureVerify (which EDK2 calls), takes the
     * signature scheme from the signer's key and the SignerInfo's digestAlgorithm and ignores the
     * digestEncryptionAlgorithm OID: that field is not signed, and Bouncy Castle's default would
     * refuse combinations OpenSSL verifies (a sha1WithRSA OID beside a SHA-256 digest).
     */
    private static SignerInformationVerifier verifier(PublicKey key) throws OperatorCreationException {
        String scheme = switch (key.getAlgorithm()) {
            case "RSA" -> "RSA";
            case "EC", "ECDSA" -> "ECDSA";
            default -> null;
        };
        CMSSignatureAlgorithmNameGenerator bcDefault = new DefaultCMSSignatureAlgorithmNameGenerator();
        CMSSignatureAlgorithmNameGenerator names = (digestAlg, encryptionAlg) -> {
            HashAlg h = hashForOid(digestAlg.getAlgorithm().getId());
            if (h == null || scheme == null) return bcDefault.getSignatureName(digestAlg, encryptionAlg);
            return h.name() + "WITH" + scheme;
        };
        return new SignerInformationVerifier(names, new DefaultSignatureAlgorithmIdentifierFinder(),
                new JcaContentVerifierProviderBuilder().build(key), new JcaDigestCalculatorProviderBuilder().build());
    }

    /** The name as text; a string value that does not decode (invalid UTF-8) is shown as DER hex instead. */
    static String name(X500Name n) {
        if (n == null) return "(none)";
        try {
            return n.toString();
        } catch (RuntimeException e) {
            try {
                return "(undecodable name, DER " + org.kexecmeasured.util.Hex.of(n.getEncoded()) + ")";
            } catch (java.io.IOException | RuntimeException e2) {
                return "(undecodable name)";
            }
        }
    }

    /**
     * Name equality as X.509 path building does it (Bouncy Castle compares canonical forms, as
     * OpenSSL's X509_NAME_cmp); names whose strings do not decode compare by their DER bytes.
     */
    static boolean sameName(X500Name a, X500Name b) {
        if (a == null || b == null) return false;
        try {
            return a.equals(b);
        } catch (RuntimeException e) {
            try {
                return Arrays.equals(a.getEncoded(), b.getEncoded());
            } catch (java.io.IOException | RuntimeException e2) {
                return false;
            }
        }
    }

    /** ": message" for the report when the message is in format terms, else nothing. */
    private static String reason(Exception e) {
        String m = e.getMessage();
        if (m == null || m.contains("org.bouncycastle") || m.contains("java.")) return "";
        return ": " + m.replace('\n', ' ');
    }

    private record ChainResult(List<String> chain, String anchor) {
    }

    private static ChainResult chain(X509CertificateHolder signer, List<X509CertificateHolder> embedded,
                                     Collection<X509CertificateHolder> trust) {
        List<String> chain = new ArrayList<>();
        Set<X509CertificateHolder> seen = new HashSet<>();
        X509CertificateHolder cur = signer;
        while (cur != null && seen.add(cur) && chain.size() < 16) {
            chain.add(name(cur.getSubject()));
            // intermediates between the leaf and the next issuer, for the issuer's pathLenConstraint
            int below = chain.size() - 1;
            if (trust != null) {
                for (X509CertificateHolder t : trust) {
                    if (t.equals(cur)) return new ChainResult(chain, name(t.getSubject()));
                    if (sameName(t.getSubject(), cur.getIssuer()) && canIssue(t, below) && signedBy(cur, t)) {
                        return new ChainResult(chain, name(t.getSubject()));
                    }
                }
            }
            X509CertificateHolder next = null;
            for (X509CertificateHolder c : embedded) {
                if (!c.equals(cur) && sameName(c.getSubject(), cur.getIssuer()) && canIssue(c, below) && signedBy(cur, c)) {
                    next = c;
                    break;
                }
            }
            cur = next;
        }
        return new ChainResult(chain, null);
    }

    /**
     * Whether {@code issuer} may sign other certificates, as OpenSSL's chain check (and so EDK2's
     * Pkcs7Verify) decides: basicConstraints cA=TRUE within its pathLenConstraint (an X.509 v1
     * self-signed root has no extensions and counts as a CA), and keyCertSign when keyUsage is present.
     * Without this an end-entity certificate under a trusted CA could mint signers of its own.
     */
    static boolean canIssue(X509CertificateHolder issuer, int intermediatesBelow) {
        try {
            Extensions ext = issuer.getExtensions();
            BasicConstraints bc = ext == null ? null : BasicConstraints.fromExtensions(ext);
            if (bc == null) {
                if (issuer.getVersionNumber() != 1 || !sameName(issuer.getSubject(), issuer.getIssuer())) return false;
            } else {
                if (!bc.isCA()) return false;
                java.math.BigInteger pathLen = bc.getPathLenConstraint();
                if (pathLen != null && intermediatesBelow > pathLen.intValue()) return false;
            }
            KeyUsage ku = ext == null ? null : KeyUsage.fromExtensions(ext);
            return ku == null || ku.hasUsages(KeyUsage.keyCertSign);
        } catch (RuntimeException e) {
            return false; // an extension that does not decode: OpenSSL's chain check refuses such an issuer too
        }
    }

    private static boolean signedBy(X509CertificateHolder cert, X509CertificateHolder issuer) {
        try {
            return cert.isSignatureValid(new JcaContentVerifierProviderBuilder().build(issuer));
        } catch (Exception e) {
            return false;
        }
    }

    static HashAlg hashForOid(String oid) {
        return switch (oid) {
            case "1.3.14.3.2.26" -> HashAlg.SHA1;
            case "2.16.840.1.101.3.4.2.1" -> HashAlg.SHA256;
            case "2.16.840.1.101.3.4.2.2" -> HashAlg.SHA384;
            case "2.16.840.1.101.3.4.2.3" -> HashAlg.SHA512;
            default -> null;
        };
    }
}
