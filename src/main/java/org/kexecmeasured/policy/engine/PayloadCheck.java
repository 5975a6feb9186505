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
 * The payload trust part of a policy, for <em>every</em> image the boot starts — the payload, each image
 * loaded by LoadImage (systemd-boot's UKI from the ESP, systemd-stub's kernel, addons), each PE image the chain
 * loads with its own loader and measures (shim's GRUB), and the kernel handed over to kexec — not only the
 * payload: a signed systemd-boot may start an unsigned UKI. One check, used by {@code predict} and {@code boot}
 * alike (through the policy decider), before anything is extended or loaded.
 *
 * <p>Per image, in the order the run started them:
 * <ul>
 *   <li>signature ({@code require-signature}): an Authenticode signer that verifies (the {@code inspect --trust}
 *       check) and chains to one of the policy's trusted certificates — or the image is <em>covered</em>: its
 *       bytes are a section of an image already trusted here (a UKI's {@code .linux}, which systemd-stub loads
 *       under the UKI's own signature, exactly as it overrides the firmware's check for it);</li>
 *   <li>denied digests (like dbx): the image's SHA-256 Authenticode digest, covered or not;</li>
 *   <li>minimum SBAT generations: the image's {@code .sbat} section, when it has one.</li>
 * </ul>
 *
 * <p>What "trusted" means: chained to the policy's {@code trusted-certificates}, nothing else. Shim's own
 * verification (its built-in vendor certificate, MOK, the firmware db) is not trusted implicitly: a shim → GRUB →
 * kernel chain passes only if the owner lists the certificates that chain (e.g. Microsoft's UEFI CA for shim, the
 * distribution's Secure Boot CA for GRUB and the kernel). Each failure is a reason to deny that names the image.
 */
public final class PayloadCheck {

    /**
     * An image the boot starts.
     *
     * @param name               how the reasons name it ("image \EFI\Linux\x.efi (loaded by LoadImage)")
     * @param authenticodeSha256 its SHA-256 Authenticode digest, or null (then computed here)
     * @param bytes              the image file; null when only the digest is known (then only denied digests apply)
     */
    public record Image(String name, byte[] authenticodeSha256, byte[] bytes) {
        public Image(String name, byte[] authenticodeSha256) {
            this(name, authenticodeSha256, null);
        }
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

    /**
     * Checks every image, in order (an image is covered only by one started before it). Images with the same
     * bytes as one already checked (the kernel handed over is usually the one LoadImage'd) are checked once.
     */
    public static Result check(PolicyFile.PayloadTrust trust, List<X509CertificateHolder> anchors, List<Image> images) {
        List<String> fail = new ArrayList<>();
        List<String> checked = new ArrayList<>();
        if (!trust.requireSignature() && trust.deniedDigests().isEmpty() && trust.minimumSbat().isEmpty()) {
            return new Result(fail, checked); // nothing to check: no image is parsed or hashed for it
        }
        List<byte[]> trustedSections = new ArrayList<>();
        List<byte[]> seen = new ArrayList<>();
        int n = 0;
        for (Image i : images) {
            if (i.bytes() != null && seen.stream().anyMatch(b -> Arrays.equals(b, i.bytes()))) continue;
            if (i.bytes() != null) seen.add(i.bytes());
            n++;
            PeFile pe = null;
            String notPe = null;
            if (i.bytes() != null) {
                try {
                    if (PeFile.looksLikePe(i.bytes())) pe = PeFile.parse(i.bytes());
                    else notPe = "not a PE image";
                } catch (BadInputException e) {
                    notPe = "not a well-formed PE image (" + e.getMessage() + ")";
                }
            }
            byte[] digest = i.authenticodeSha256();
            if (digest == null && pe != null && (trust.requireSignature() || !trust.deniedDigests().isEmpty())) {
                digest = org.kexecmeasured.payload.pe.Authenticode.digest(pe, HashAlg.SHA256);
            }
            if (digest != null) {
                for (byte[] d : trust.deniedDigests()) {
                    if (Arrays.equals(d, digest)) fail.add(i.name() + " is denied by the policy (Authenticode SHA-256 " + Hex.of(d) + ")");
                }
            }
            if (trust.requireSignature() && i.bytes() != null) {
                if (trustedSections.stream().anyMatch(b -> Arrays.equals(b, i.bytes()))) {
                    checked.add(i.name() + ": covered by the signature of an image that contains it");
                } else if (pe == null) {
                    fail.add(i.name() + " is " + notPe + ": it cannot carry the signature the policy requires");
                } else {
                    String why = signature(pe, digest, anchors);
                    if (why == null) {
                        checked.add(i.name() + ": a signer verifies and chains to a trusted certificate");
                        trustedSections.addAll(sections(pe));
                    } else {
                        fail.add(i.name() + ": " + why);
                    }
                }
            }
            if (!trust.minimumSbat().isEmpty() && pe != null) sbat(pe, i.name(), trust.minimumSbat(), fail, checked);
        }
        if (!trust.deniedDigests().isEmpty()) checked.add("denied digests: " + n + " image(s) checked");
        return new Result(fail, checked);
    }

    /** Null when a signer verifies and chains to a trusted certificate, else why not. */
    static String signature(PeFile pe, byte[] sha256, List<X509CertificateHolder> anchors) {
        List<AuthenticodeSignatures.Entry> sigs;
        try {
            java.util.EnumMap<HashAlg, byte[]> computed = new java.util.EnumMap<>(HashAlg.class);
            if (sha256 != null) computed.put(HashAlg.SHA256, sha256);
            sigs = AuthenticodeSignatures.check(pe, computed, anchors);
        } catch (BadInputException e) {
            return "its signature cannot be read: " + e.getMessage();
        }
        if (sigs.stream().flatMap(e -> e.signers().stream()).anyMatch(AuthenticodeSignatures.Signer::verified)) return null;
        if (sigs.isEmpty()) return "the policy requires a signature and it has none";
        List<String> why = new ArrayList<>();
        for (AuthenticodeSignatures.Entry e : sigs) {
            if (e.signers().isEmpty() && e.problem() != null) why.add(e.problem());
            for (AuthenticodeSignatures.Signer s : e.signers()) {
                why.add(s.subject() + ": " + (s.problem() != null ? s.problem()
                        : !s.digestMatches() ? "signed digest differs from the image"
                        : !s.signatureValid() ? "signature does not verify" : "does not chain to a trusted certificate"));
            }
        }
        return "no signer verifies and chains to a trusted certificate (" + String.join("; ", why) + ")";
    }

    /** The sections a signed image carries, as loaded (a UKI's .linux is what systemd-stub starts). */
    static List<byte[]> sections(PeFile pe) {
        List<byte[]> out = new ArrayList<>();
        if (!Uki.isUki(pe)) return out;
        Uki uki = Uki.of(pe);
        for (Section s : pe.sections()) {
            try {
                out.add(uki.loaded(s));
            } catch (BadInputException e) {
                // a section that cannot be loaded covers nothing
            }
        }
        return out;
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
        byte[] b = pe.read(s.pointerToRawData(), Math.max(0, Math.min(n, pe.fileSize() - s.pointerToRawData()))); // no copy of the whole file
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
