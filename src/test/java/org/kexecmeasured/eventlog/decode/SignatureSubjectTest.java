package org.kexecmeasured.eventlog.decode;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.payload.RealParts;

import javax.security.auth.x500.X500Principal;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The subjects of the certificates in Secure Boot signature lists (PK, KEK, db, authorities), read by
 * {@link SignatureLists#subject}'s own DER walk, against two full X.509 parsers run here: the JDK's
 * {@code CertificateFactory} and openssl (the same CN, or the whole name where there is no CN), for every certificate of every real
 * firmware log of the fixtures; and broken certificates (every truncation, single-byte changes) read as no subject
 * wherever the JDK reads none, the same subject wherever it reads one.
 */
class SignatureSubjectTest {

    /** Every distinct certificate of the fixture logs, by its DER. */
    private static Map<String, byte[]> certificates() {
        Map<String, byte[]> certs = new LinkedHashMap<>();
        for (Path p : Fixtures.goodLogs()) {
            EventLog log = EventLog.parse(Fixtures.read(p));
            for (Event e : log.events()) {
                if (!(e.decoded() instanceof EfiVariable v) || v.signatures() == null) continue;
                for (SignatureLists.Entry s : v.signatures()) {
                    if (s.type().equals(SignatureLists.X509)) certs.putIfAbsent(Arrays.toString(s.data()), s.data());
                }
            }
        }
        return certs;
    }

    /** The JDK's reading, or null where it refuses the DER. */
    private static String jdkSubject(byte[] der) {
        try {
            X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der));
            return c.getSubjectX500Principal().getName(X500Principal.RFC2253);
        } catch (Exception e) {
            return null;
        }
    }

    @Test
    void everyCertificateOfTheRealLogsHasTheSubjectTheJdkAndOpensslRead() throws Exception {
        Map<String, byte[]> certs = certificates();
        assertTrue(certs.size() >= 5, "certificates in the fixture logs: " + certs.size());
        Path dir = Files.createTempDirectory("km-subject");
        try {
            int i = 0;
            for (byte[] der : certs.values()) {
                String ours = SignatureLists.subject(der);
                assertNotNull(ours, "certificate " + i);
                assertEquals(jdkSubject(der), ours, "certificate " + i);
                Path f = dir.resolve(i + ".der");
                Files.write(f, der);
                String ssl = RealParts.run(List.of("openssl", "x509", "-inform", "DER", "-in", f.toString(), "-noout",
                        "-subject", "-nameopt", "RFC2253"), "openssl").trim();
                // openssl names the attributes the JDK writes as OIDs (emailAddress): the CN, else the whole name
                if (ours.contains("CN=")) {
                    assertTrue(ssl.contains("CN=" + SignatureLists.cn(ours)), "certificate " + i + ": openssl " + ssl + ", ours " + ours);
                } else {
                    assertEquals("subject=" + ours, ssl, "certificate " + i);
                }
                i++;
            }
        } finally {
            try (var s = Files.list(dir)) {
                for (Path f : s.toList()) Files.delete(f);
            }
            Files.delete(dir);
        }
    }

    @Test
    void brokenCertificatesHaveNoSubjectWhereTheJdkReadsNone() {
        byte[] der = certificates().values().iterator().next();
        for (int n = 0; n < der.length; n += (n < 64 ? 1 : 7)) {
            byte[] cut = Arrays.copyOf(der, n);
            assertNull(jdkSubject(cut), "JDK, truncated to " + n);
            assertNull(SignatureLists.subject(cut), "truncated to " + n);
        }
        int refused = 0;
        for (int pos = 0; pos < Math.min(der.length, 400); pos++) {
            for (int v : new int[]{0x00, 0x7f, 0x80, 0xff}) {
                byte[] m = der.clone();
                m[pos] = (byte) v;
                String jdk = jdkSubject(m);
                String ours = SignatureLists.subject(m);
                if (jdk != null) {
                    assertEquals(jdk, ours, "byte " + pos + " = " + v);
                } else if (ours == null) {
                    refused++;
                }
            }
        }
        assertTrue(refused > 100, "mutations both refused: " + refused);
    }
}
