package org.kexecmeasured.eventlog.decode;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.Arrays;
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

    /**
     * The subject of an X.509 certificate (RFC 2253, as {@link javax.security.auth.x500.X500Principal} writes it),
     * or null when the DER is not a certificate. The certificate's structure is walked here (every element of
     * Certificate and TBSCertificate present, in order, each length inside its parent: RFC 5280 4.1) and only the
     * subject Name is parsed, by the JDK: a {@code CertificateFactory} would also set up the security providers and
     * decode the public key and every extension, the largest cost of {@code eventlog show} on a log with Secure Boot
     * databases (a display summary, never a trust decision: nothing here is verified).
     */
    static String subject(byte[] der) {
        try {
            int[] cert = Der.element(der, 0, der.length, Der.SEQUENCE);
            int[] tbs = Der.element(der, cert[0], cert[1], Der.SEQUENCE);
            int[] sigAlg = Der.element(der, tbs[1], cert[1], Der.SEQUENCE);
            int[] sig = Der.element(der, sigAlg[1], cert[1], Der.BIT_STRING);
            if (sig[1] != cert[1]) return null;
            int p = tbs[0];
            if (p < tbs[1] && (der[p] & 0xff) == Der.VERSION) p = Der.element(der, p, tbs[1], Der.VERSION)[1];
            p = Der.element(der, p, tbs[1], Der.INTEGER)[1]; // serialNumber
            p = Der.element(der, p, tbs[1], Der.SEQUENCE)[1]; // signature
            p = Der.element(der, p, tbs[1], Der.SEQUENCE)[1]; // issuer
            p = Der.element(der, p, tbs[1], Der.SEQUENCE)[1]; // validity
            int[] subject = Der.element(der, p, tbs[1], Der.SEQUENCE);
            p = Der.element(der, subject[1], tbs[1], Der.SEQUENCE)[1]; // subjectPublicKeyInfo
            while (p < tbs[1]) p = Der.element(der, p, tbs[1], -1)[1]; // issuerUniqueID, subjectUniqueID, extensions
            return new javax.security.auth.x500.X500Principal(Arrays.copyOfRange(der, subject[2], subject[1]))
                    .getName(javax.security.auth.x500.X500Principal.RFC2253);
        } catch (RuntimeException e) { // hostile or truncated DER (X500Principal: IllegalArgumentException): show the hex instead
            return null;
        }
    }

    /** Just enough DER (X.690 8.1, 10.1: definite lengths, minimal) to find the elements of a certificate. */
    private static final class Der {
        static final int INTEGER = 0x02;
        static final int BIT_STRING = 0x03;
        static final int SEQUENCE = 0x30;
        static final int VERSION = 0xa0; // [0] EXPLICIT Version

        /**
         * The element at {@code p}, which must end by {@code limit} and have tag {@code tag} (any tag when -1; only
         * single-byte tags): {content start, end, element start}.
         */
        static int[] element(byte[] d, int p, int limit, int tag) {
            if (p + 2 > limit) throw new IllegalArgumentException("truncated at " + p);
            int t = d[p] & 0xff;
            if ((t & 0x1f) == 0x1f || (tag >= 0 && t != tag)) throw new IllegalArgumentException("tag " + t + " at " + p);
            int len = d[p + 1] & 0xff;
            int q = p + 2;
            if (len >= 0x80) {
                int n = len & 0x7f;
                if (n == 0 || n > 3 || q + n > limit || d[q] == 0) throw new IllegalArgumentException("length at " + p);
                len = 0;
                for (int i = 0; i < n; i++) len = len << 8 | (d[q++] & 0xff);
                if (len < 0x80) throw new IllegalArgumentException("length not minimal at " + p);
            }
            if (len > limit - q) throw new IllegalArgumentException("element at " + p + " overruns its parent");
            return new int[]{q, q + len, p};
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
