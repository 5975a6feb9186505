package org.kexecmeasured.policy.engine;

import org.kexecmeasured.payload.hash.NativeVerifier;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every signed PCR policy the next system will find: the payload's .pcrsig (systemd-stub hands it
 * over as /.extra/tpm2-pcr-signature.json), the files the policy names, and the signature a
 * re-authorization creates. Looked up as systemd-cryptsetup does: bank, PCR set, key fingerprint,
 * policy digest; then the signature is verified as the TPM will verify it (TPM2_VerifySignature of
 * RSASSA/ECDSA with SHA-256 over the policy digest), in OpenSSL's libcrypto when it is loaded, else by the JDK.
 */
public final class SignatureCatalog {

    public record Source(String label, PcrSignatures signatures) {
    }

    /** An entry found for a key and PCR set, and where it came from. */
    public record Match(String source, PcrSignatures.Entry entry, boolean verifies) {
    }

    private final List<Source> sources = new ArrayList<>();
    /**
     * Each entry's verification, done once: a secret is evaluated at every boot phase, and each look-up would
     * otherwise verify every entry of its key again (RSA verification in the JDK costs milliseconds in this tool's
     * C1-only JVM). Keyed by the entry object and the key: the same entry and key always give the same answer.
     */
    private final Map<PcrSignatures.Entry, Map<PublicKey, Boolean>> verified = new IdentityHashMap<>();

    /**
     * systemd's key fingerprint "pkfp": SHA-256 of OpenSSL's i2d_PublicKey() — the PKCS#1
     * RSAPublicKey for RSA, the uncompressed point for EC — i.e. the subjectPublicKey bits of the
     * SubjectPublicKeyInfo, not the whole SPKI (systemd src/shared/openssl-util.c, pubkey_fingerprint).
     */
    public static byte[] fingerprint(PublicKey key) {
        return org.kexecmeasured.policy.secret.PemKeys.fingerprint(key);
    }

    public SignatureCatalog add(String label, PcrSignatures s) {
        sources.add(new Source(label, s));
        return this;
    }

    public List<Source> sources() {
        return List.copyOf(sources);
    }

    /** Entries signed by {@code key} (fingerprint {@code pkfp}) for this bank and PCR set, whatever policy they sign. */
    public List<Match> forKey(HashAlg bank, List<Integer> pcrs, byte[] pkfp, PublicKey key) {
        List<Match> out = new ArrayList<>();
        String fp = Hex.of(pkfp);
        for (Source s : sources) {
            for (PcrSignatures.Entry e : s.signatures().bank(bank.tpmName)) {
                if (!e.pcrs().equals(pcrs) || !e.pkfp().equalsIgnoreCase(fp)) continue;
                out.add(new Match(s.label(), e, verifiesOnce(key, e)));
            }
        }
        return out;
    }

    /** A verifying signature over exactly {@code pol}, or null; only the entries over {@code pol} are verified. */
    public Match find(HashAlg bank, List<Integer> pcrs, byte[] pkfp, PublicKey key, byte[] pol) {
        String fp = Hex.of(pkfp);
        String p = Hex.of(pol);
        for (Source s : sources) {
            for (PcrSignatures.Entry e : s.signatures().bank(bank.tpmName)) {
                if (!e.pcrs().equals(pcrs) || !e.pkfp().equalsIgnoreCase(fp) || !e.pol().equalsIgnoreCase(p)) continue;
                if (verifiesOnce(key, e)) return new Match(s.label(), e, true);
            }
        }
        return null;
    }

    private boolean verifiesOnce(PublicKey key, PcrSignatures.Entry e) {
        return verified.computeIfAbsent(e, x -> new HashMap<>()).computeIfAbsent(key, k -> verifies(k, e));
    }

    /** What TPM2_VerifySignature would accept: RSASSA or ECDSA, SHA-256 over the policy digest bytes. */
    static boolean verifies(PublicKey key, PcrSignatures.Entry e) {
        try {
            byte[] pol = Hex.parse(e.pol());
            byte[] sig = Base64.getMimeDecoder().decode(e.sig());
            // in libcrypto when it is loaded and takes the key; else the JDK (the same answer: SignatureCatalogTest)
            // only for keys the JDK takes too: libcrypto also verifies on curves the JDK, the TPM and systemd refuse
            Boolean lib = org.kexecmeasured.policy.secret.PemKeys.jdkSignatureKey(key)
                    ? NativeVerifier.verify(key.getEncoded(), HashAlg.SHA256, pol, sig) : null;
            if (lib != null) return lib;
            return jdkVerifies(key, pol, sig);
        } catch (IllegalArgumentException | org.kexecmeasured.util.BadInputException x) {
            return false;
        }
    }

    /** The JDK's answer to {@link #verifies}. */
    static boolean jdkVerifies(PublicKey key, byte[] pol, byte[] sig) {
        try {
            Signature s = Signature.getInstance(key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA");
            s.initVerify(key);
            s.update(pol);
            return s.verify(sig);
        } catch (GeneralSecurityException | IllegalArgumentException x) {
            return false;
        }
    }
}
