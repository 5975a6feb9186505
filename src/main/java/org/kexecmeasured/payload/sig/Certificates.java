package org.kexecmeasured.payload.sig;

import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMParser;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Loads X.509 certificates from PEM (one or more) or DER files. */
public final class Certificates {
    private Certificates() {
    }

    public static List<X509CertificateHolder> load(Path file) {
        return parse(BoundedFiles.read(file, BoundedFiles.CERTIFICATE), file.toString());
    }

    public static List<X509CertificateHolder> parse(byte[] b, String what) {
        List<X509CertificateHolder> out = new ArrayList<>();
        if (b.length > 0 && b[0] == 0x30) {
            try {
                out.add(new X509CertificateHolder(b));
                return out;
            } catch (IOException | RuntimeException e) {
                throw new BadInputException(what + ": not a DER X.509 certificate (" + e.getMessage() + ")");
            }
        }
        try (PEMParser p = new PEMParser(new InputStreamReader(new ByteArrayInputStream(b), StandardCharsets.US_ASCII))) {
            Object o;
            while ((o = p.readObject()) != null) {
                if (o instanceof X509CertificateHolder h) out.add(h);
            }
        } catch (IOException | RuntimeException e) {
            throw new BadInputException(what + ": not a PEM certificate file (" + e.getMessage() + ")");
        }
        if (out.isEmpty()) throw new BadInputException(what + ": contains no X.509 certificate (PEM or DER expected)");
        return out;
    }
}
