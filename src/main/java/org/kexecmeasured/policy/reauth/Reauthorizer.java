package org.kexecmeasured.policy.reauth;

import org.kexecmeasured.util.BoundedFiles;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.kexecmeasured.policy.engine.PcrSignatures;
import org.kexecmeasured.policy.engine.Prediction;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.secret.PolicyStep;
import org.kexecmeasured.policy.secret.SealedSecret;
import org.kexecmeasured.policy.secret.UnlockRoute;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.RSAPublicKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Opt-in re-authorization: the owner's signing key signs the predicted post-kexec PCR values, in
 * systemd's {@code tpm2-pcr-signature.json} format, for each boot phase the next system passes —
 * exactly as {@code systemd-measure sign} signs a UKI's values (systemd src/boot/measure.c): per bank
 * and phase, pol = PolicyPCR digest (session hash SHA-256) over the PCR values, sig = the key's
 * signature over pol with the bank's hash (RSA PKCS#1 v1.5 or ECDSA), pkfp = systemd's key
 * fingerprint ({@link org.kexecmeasured.policy.engine.SignatureCatalog#fingerprint}), pcrs = the signed PCRs. A token bound to that key (enrolled with
 * systemd-cryptenroll --tpm2-public-key) then unlocks after the kexec; the signed values are recorded. The key
 * signs in OpenSSL's libcrypto when it is loaded, else in the JDK ({@link SigningKey} says when).
 */
public final class Reauthorizer {

    /** The file systemd looks for, and where it goes in the next system's initrd. */
    public static final String FILE_NAME = "tpm2-pcr-signature.json";

    /** One signed policy, as the manifest records it: bank, phase, PCR values and the policy digest. */
    public record Signed(String bank, String phase, Map<String, String> pcrValues, String pol) {
    }

    /** The signature file and what it signs. */
    public record Result(PcrSignatures signatures, byte[] json, String keyFingerprint, List<Signed> signed, List<String> secrets) {
        public Result {
            json = json.clone();
            signed = List.copyOf(signed);
            secrets = List.copyOf(secrets);
        }

        @Override
        public byte[] json() {
            return json.clone();
        }
    }

    private Reauthorizer() {
    }

    /**
     * Signs the predicted values of the PCR sets the named secrets' signed policies use, for the
     * configured phases and banks. Refuses (bad input) when a named secret has no route bound to
     * the signing key: re-authorizing it would change nothing, and saying nothing would hide that.
     */
    public static Result sign(PolicyFile.Reauthorize config, Prediction prediction, List<SealedSecret> secrets) {
        try (SigningKey key = SigningKey.read(config.signingKey())) {
            return signWith(config, prediction, secrets, key);
        }
    }

    /**
     * As {@link #sign(PolicyFile.Reauthorize, Prediction, List)}, with {@code key}, {@code config}'s signing key read
     * before (when the policy was prepared: {@link SigningKey#read}) and still open; the caller closes it.
     */
    public static Result sign(PolicyFile.Reauthorize config, Prediction prediction, List<SealedSecret> secrets, SigningKey key) {
        return signWith(config, prediction, secrets, key);
    }

    private static Result signWith(PolicyFile.Reauthorize config, Prediction prediction, List<SealedSecret> secrets, SigningKey key) {
        PublicKey pub = key.publicKey();
        byte[] pkfp = org.kexecmeasured.policy.engine.SignatureCatalog.fingerprint(pub);
        // which PCR sets to sign: those of the named secrets' PolicyAuthorize steps with this key
        TreeSet<String> pcrSets = new TreeSet<>();
        List<List<Integer>> sets = new ArrayList<>();
        for (String name : config.secrets()) {
            SealedSecret s = secrets.stream().filter(x -> x.name().equals(name)).findFirst()
                    .orElseThrow(() -> new BadInputException("reauthorize: no secret named '" + name + "'"));
            boolean bound = false;
            for (UnlockRoute r : s.routes()) {
                for (PolicyStep step : r.steps()) {
                    if (step instanceof PolicyStep.Authorize a && java.util.Arrays.equals(a.key().getEncoded(), pub.getEncoded())) {
                        bound = true;
                        if (pcrSets.add(a.signedPcrs().toString())) sets.add(a.signedPcrs());
                    }
                }
            }
            if (!bound) {
                throw new BadInputException("reauthorize: secret '" + name + "' has no TPM route bound to the signing key "
                        + config.signingKey() + " (fingerprint " + Hex.of(pkfp) + "): re-authorization cannot reach it");
            }
        }
        Map<String, List<PcrSignatures.Entry>> banks = new LinkedHashMap<>();
        List<Signed> signed = new ArrayList<>();
        // systemd-measure sorts its banks by name; so do we, so the files compare equal
        List<HashAlg> order = new ArrayList<>(config.banks());
        order.sort(java.util.Comparator.comparing(a -> a.tpmName));
        for (HashAlg bank : order) {
            if (!prediction.banks().contains(bank)) {
                throw new BadInputException("reauthorize: bank " + bank.tpmName + " is not active on the TPM (active: "
                        + prediction.banks().stream().map(a -> a.tpmName).toList() + ")");
            }
            List<PcrSignatures.Entry> entries = new ArrayList<>();
            for (String phase : config.phases()) {
                Prediction.State st = prediction.afterPhase(phase);
                for (List<Integer> pcrs : sets) {
                    PcrSelection sel = PcrSelection.of(bank, pcrs);
                    byte[] pol = PolicyDigest.start(HashAlg.SHA256).policyPcr(sel, st.values()).digest();
                    byte[] sig = key.sign(bank, pol);
                    entries.add(new PcrSignatures.Entry(pcrs, Hex.of(pkfp), Hex.of(pol), Base64.getEncoder().encodeToString(sig)));
                    Map<String, String> values = new TreeMap<>(java.util.Comparator.comparingInt(Integer::parseInt));
                    for (int p : pcrs) values.put(Integer.toString(p), Hex.of(st.values().get(bank)[p]));
                    signed.add(new Signed(bank.tpmName, phase, values, Hex.of(pol)));
                }
            }
            banks.put(bank.tpmName, entries);
        }
        PcrSignatures sigs = new PcrSignatures(banks);
        return new Result(sigs, sigs.toJson(), Hex.of(pkfp), signed, config.secrets());
    }

    /** The JDK's signature as systemd-measure makes it (EVP_DigestSign with the bank's hash over the policy digest). */
    static byte[] sign(PrivateKey key, HashAlg bank, byte[] pol) {
        String h = bank.jcaName.replace("-", "");
        String alg = key.getAlgorithm().equals("RSA") ? h + "withRSA" : h + "withECDSA";
        try {
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(pol);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new BadInputException("reauthorize: cannot sign with " + alg + ": " + e.getMessage());
        }
    }

    /** The signing key's file, at most 64 KiB (the caller clears the bytes). */
    static byte[] readPem(Path file) {
        try {
            if (Files.size(file) > 1 << 16) throw new BadInputException(file + ": larger than 64 KiB, not a PEM private key");
            return BoundedFiles.read(file, BoundedFiles.TEXT);
        } catch (IOException e) {
            throw new BadInputException("reauthorize: cannot read the signing key " + file + ": " + e.getMessage());
        }
    }

    /** The JDK's key of the PEM: PKCS#8 and PKCS#1 by the JDK, other forms (SEC 1 EC) through Bouncy Castle. */
    static PrivateKey jdkPrivateKey(byte[] b, Path file) {
        PrivateKey plain = org.kexecmeasured.policy.secret.PemKeys.privateKey(b, "reauthorize: " + file);
        if (plain != null) return plain;
        try (Reader r = new java.io.StringReader(new String(b, StandardCharsets.US_ASCII)); PEMParser p = new PEMParser(r)) {
            JcaPEMKeyConverter c = new JcaPEMKeyConverter();
            // the first key: `openssl ecparam -genkey` writes an "EC PARAMETERS" block before it
            for (Object o = p.readObject(); o != null; o = p.readObject()) {
                if (o instanceof PEMKeyPair kp) return c.getPrivateKey(kp.getPrivateKeyInfo());
                if (o instanceof PrivateKeyInfo pki) return c.getPrivateKey(pki);
            }
            throw new BadInputException("reauthorize: " + file + " is not an unencrypted PEM private key");
        } catch (IOException | RuntimeException e) {
            if (e instanceof BadInputException x) throw x;
            throw new BadInputException("reauthorize: " + file + " is not a PEM private key: " + e.getMessage());
        }
    }

    static PublicKey publicKeyOf(PrivateKey key, Path file) {
        try {
            if (key instanceof RSAPrivateCrtKey rsa) {
                return KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(rsa.getModulus(), rsa.getPublicExponent()));
            }
            if (key instanceof java.security.interfaces.ECPrivateKey) {
                // derive Q = d·G with Bouncy Castle and re-encode as a standard SubjectPublicKeyInfo
                java.security.interfaces.ECPrivateKey ec = (java.security.interfaces.ECPrivateKey) key;
                org.bouncycastle.jce.spec.ECParameterSpec spec = org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util.convertSpec(ec.getParams());
                org.bouncycastle.math.ec.ECPoint q = spec.getG().multiply(ec.getS()).normalize();
                java.security.spec.ECPoint w = new java.security.spec.ECPoint(q.getAffineXCoord().toBigInteger(), q.getAffineYCoord().toBigInteger());
                return KeyFactory.getInstance("EC").generatePublic(new java.security.spec.ECPublicKeySpec(w, ec.getParams()));
            }
        } catch (GeneralSecurityException e) {
            throw new BadInputException("reauthorize: cannot derive the public key of " + file + ": " + e.getMessage());
        }
        throw new BadInputException("reauthorize: " + file + " holds a " + key.getAlgorithm() + " key; RSA or EC is needed");
    }

    /** SubjectPublicKeyInfo PEM of the signing key's public half (for enrolment and checks). */
    public static String publicKeyPem(Path signingKey) {
        PublicKey pub;
        try (SigningKey k = SigningKey.read(signingKey)) {
            pub = k.publicKey();
        }
        String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(pub.getEncoded());
        return "-----BEGIN PUBLIC KEY-----\n" + b64 + "\n-----END PUBLIC KEY-----\n";
    }
}
