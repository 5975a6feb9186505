package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.Hex;

import java.io.ByteArrayInputStream;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * EFI_SIGNATURE_LIST contents of Secure Boot variables (PK, KEK, db, dbx …) and the single
 * EFI_SIGNATURE_DATA of EV_EFI_VARIABLE_AUTHORITY: certificates by subject, hashes by count.
 * Parsing is best effort and bounded; anything that does not fit yields null (raw data stays).
 */
final class SignatureLists {
    static final Guid X509 = Guid.parse("a5c059a1-94e4-4aa7-87b5-ab155c2bf072");
    static final Guid SHA256 = Guid.parse("c1c41626-504c-4092-aca9-41f936934328");

    private SignatureLists() {
    }

    /** One entry: owner GUID and either a certificate subject or a hash. */
    record Entry(Guid type, Guid owner, String subject, byte[] data) {
        Map<String, Object> fields() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("SignatureType", type.equals(X509) ? "EFI_CERT_X509" : type.equals(SHA256) ? "EFI_CERT_SHA256" : type.toString());
            m.put("SignatureOwner", owner.toString());
            if (subject != null) m.put("Subject", subject);
            else m.put("SignatureData", Hex.of(data));
            return m;
        }
    }

    /** The entries of a concatenation of EFI_SIGNATURE_LISTs, or null when the data is not one. */
    static List<Entry> parseLists(byte[] d) {
        List<Entry> out = new ArrayList<>();
        int p = 0;
        while (p < d.length) {
            if (d.length - p < 28) return null;
            Guid type = Guid.read(d, p);
            long listSize = Le.u32(d, p + 16);
            long headerSize = Le.u32(d, p + 20);
            long sigSize = Le.u32(d, p + 24);
            if (listSize < 28 || listSize > d.length - p || sigSize < 16 || headerSize > listSize - 28) return null;
            long body = listSize - 28 - headerSize;
            if (body % sigSize != 0) return null;
            int q = p + 28 + (int) headerSize;
            for (long i = 0; i < body / sigSize; i++) {
                byte[] data = new byte[(int) sigSize - 16];
                System.arraycopy(d, q + 16, data, 0, data.length);
                out.add(new Entry(type, Guid.read(d, q), type.equals(X509) ? subject(data) : null, data));
                q += (int) sigSize;
            }
            p += (int) listSize;
        }
        return out;
    }

    /** EFI_SIGNATURE_DATA (owner GUID + X.509 DER) of an authority event, or null when not a certificate. */
    static Entry parseAuthority(byte[] d) {
        if (d.length < 16 + 4 || (d[16] & 0xff) != 0x30) return null;
        byte[] der = new byte[d.length - 16];
        System.arraycopy(d, 16, der, 0, der.length);
        String s = subject(der);
        return s == null ? null : new Entry(X509, Guid.read(d, 0), s, der);
    }

    private static String subject(byte[] der) {
        try {
            X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der));
            return c.getSubjectX500Principal().getName(javax.security.auth.x500.X500Principal.RFC2253);
        } catch (Exception e) { // hostile or truncated DER: show the hex instead
            return null;
        }
    }

    static String summary(List<Entry> l) {
        int certs = 0;
        int hashes = 0;
        StringBuilder names = new StringBuilder();
        for (Entry e : l) {
            if (e.subject != null) {
                certs++;
                if (names.length() < 160) names.append(names.length() > 0 ? "; " : "").append(cn(e.subject));
            } else {
                hashes++;
            }
        }
        StringBuilder sb = new StringBuilder();
        if (certs > 0) sb.append(certs).append(" X.509 (").append(names).append(')');
        if (hashes > 0) sb.append(sb.length() > 0 ? ", " : "").append(hashes).append(" hash(es)");
        return sb.length() == 0 ? "empty" : sb.toString();
    }

    static String cn(String dn) {
        for (String part : dn.split("(?<!\\\\),")) {
            if (part.startsWith("CN=")) return part.substring(3);
        }
        return dn;
    }
}
