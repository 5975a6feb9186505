package org.kexecmeasured.policy.engine;

import org.bouncycastle.cert.X509CertificateHolder;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.payload.sig.AuthenticodeSignatures;
import org.kexecmeasured.payload.sig.Certificates;
import org.kexecmeasured.payload.uki.Uki;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The payload trust part of a policy: signature (the {@code inspect --trust} check: an Authenticode
 * signer that verifies and chains to one of the trusted certificates), denied digests (like dbx: the
 * payload and every image the run loads), minimum SBAT generations (the payload's and its kernel's
 * .sbat sections). Each failure is a reason to deny, in words.
 */
public final class PayloadCheck {

    /** An image the boot starts (the payload, the kernel the stub loads …) and its SHA-256 Authenticode digest. */
    public record Image(String name, byte[] authenticodeSha256) {
    }

    /** The result: the failures (empty = trusted) and what was checked. */
    public record Result(List<String> failures, List<String> checked) {
        public Result {
            failures = List.copyOf(failures);
            checked = List.copyOf(checked);
        }

        public boolean trusted() {
            return failures.isEmpty();
        }
    }

    private PayloadCheck() {
    }

    /** Loads the trusted certificates the policy names (bad input names the file). */
    public static List<X509CertificateHolder> certificates(PolicyFile.PayloadTrust trust) {
        List<X509CertificateHolder> out = new ArrayList<>();
        for (java.nio.file.Path p : trust.trustedCertificates()) out.addAll(Certificates.load(p));
        return out;
    }

    public static Result check(PolicyFile.PayloadTrust trust, List<X509CertificateHolder> anchors, PeFile payload,
                               byte[] payloadAuthenticodeSha256, List<Image> images) {
        List<String> fail = new ArrayList<>();
        List<String> checked = new ArrayList<>();
        if (trust.requireSignature()) {
            Map<HashAlg, byte[]> computed = Map.of(HashAlg.SHA256, payloadAuthenticodeSha256);
            List<AuthenticodeSignatures.Entry> sigs;
            try {
                sigs = AuthenticodeSignatures.check(payload, new java.util.EnumMap<>(computed), anchors);
            } catch (BadInputException e) {
                sigs = List.of();
                fail.add("the payload's signature cannot be read: " + e.getMessage());
            }
            boolean ok = sigs.stream().flatMap(e -> e.signers().stream()).anyMatch(AuthenticodeSignatures.Signer::verified);
            if (ok) {
                checked.add("signature: a signer verifies and chains to a trusted certificate");
            } else if (sigs.isEmpty()) {
                fail.add("the policy requires a signature and the payload has none");
            } else {
                List<String> why = new ArrayList<>();
                for (AuthenticodeSignatures.Entry e : sigs) {
                    for (AuthenticodeSignatures.Signer s : e.signers()) {
                        why.add(s.subject() + ": " + (s.problem() != null ? s.problem()
                                : !s.digestMatches() ? "signed digest differs from the image"
                                : !s.signatureValid() ? "signature does not verify" : "does not chain to a trusted certificate"));
                    }
                }
                fail.add("no signer of the payload verifies and chains to a trusted certificate (" + String.join("; ", why) + ")");
            }
        }
        for (Image i : images) {
            for (byte[] d : trust.deniedDigests()) {
                if (Arrays.equals(d, i.authenticodeSha256())) {
                    fail.add(i.name() + " is denied by the policy (Authenticode SHA-256 " + Hex.of(d) + ")");
                }
            }
        }
        if (!trust.deniedDigests().isEmpty()) checked.add("denied digests: " + images.size() + " image(s) checked");
        if (!trust.minimumSbat().isEmpty()) {
            sbat(payload, "the payload", trust.minimumSbat(), fail, checked);
            if (Uki.isUki(payload)) {
                Section linux = payload.section(".linux").orElseThrow();
                byte[] inner = Uki.of(payload).loaded(linux);
                if (PeFile.looksLikePe(inner)) sbat(PeFile.parse(inner), "the UKI's kernel (.linux)", trust.minimumSbat(), fail, checked);
            }
        }
        return new Result(fail, checked);
    }

    /**
     * SBAT (shim's revocation scheme): a .sbat section is CSV, "component,generation,vendor,package,
     * version,url"; a component the policy lists must not appear with a lower generation.
     */
    static void sbat(PeFile pe, String what, Map<String, Integer> minimum, List<String> fail, List<String> checked) {
        Section s = pe.section(".sbat").orElse(null);
        if (s == null) {
            checked.add(what + " has no .sbat section");
            return;
        }
        long n = Math.min(s.sizeOfRawData(), s.virtualSize());
        byte[] b = Arrays.copyOfRange(pe.bytes(), (int) s.pointerToRawData(), (int) (s.pointerToRawData() + n));
        int end = 0;
        while (end < b.length && b[end] != 0) end++;
        String text = new String(b, 0, end, StandardCharsets.UTF_8);
        int line = 0;
        for (String l : text.split("\n")) {
            line++;
            String[] f = l.strip().split(",", -1);
            if (f.length < 2 || f[0].isEmpty()) continue;
            Integer min = minimum.get(f[0]);
            if (min == null) continue;
            int gen;
            try {
                gen = Integer.parseInt(f[1].strip());
            } catch (NumberFormatException e) {
                fail.add(what + ": .sbat line " + line + " has generation '" + f[1] + "' for " + f[0] + ", not a number");
                continue;
            }
            if (gen < min) fail.add(what + ": SBAT " + f[0] + " generation " + gen + " is below the policy's minimum " + min);
            else checked.add(what + ": SBAT " + f[0] + " generation " + gen + " ≥ " + min);
        }
    }
}
