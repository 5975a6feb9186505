package org.kexecmeasured.policy.secret;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.tpm.TpmPublic;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A LUKS2 token of type {@code systemd-tpm2}, as systemd-cryptenroll writes it (systemd
 * src/shared/tpm2-util.c, tpm2_make_luks2_json / tpm2_parse_luks2_json; keys checked against
 * systemd 252 and 256): {@code tpm2-blob} (base64 TPM2B_PRIVATE ‖ TPM2B_PUBLIC), {@code tpm2-pcrs},
 * {@code tpm2-pcr-bank} (absent before 250: sha256), {@code tpm2-primary-alg} (absent: ecc),
 * {@code tpm2-policy-hash} (hex), {@code tpm2-pin}, {@code tpm2_pubkey_pcrs} + {@code tpm2_pubkey}
 * (base64 PEM; signed PCR policy, 252+), {@code tpm2_salt} (PIN salt, 254+), {@code tpm2_srk}
 * (serialized SRK handle, 254+), {@code tpm2_pcrlock} + {@code tpm2_pcrlock_nv} (base64
 * TPM2B_NV_PUBLIC, 255+). Unknown keys are kept as notes, never fatal (newer systemd may add some).
 *
 * <p>systemd's policy session order: [PolicyPCR(tpm2_pubkey_pcrs) → PolicyAuthorize(tpm2_pubkey)]
 * → [PolicyAuthorizeNV(pcrlock NV)] → [PolicyPCR(tpm2-pcrs)] → [PolicyAuthValue (PIN)].
 */
public record SystemdTpm2Token(int id, List<Integer> keyslots, SealedObject blob, TpmPublic object, List<Integer> pcrs,
                               HashAlg bank, String primaryAlg, byte[] policyHash, boolean pin, List<Integer> pubkeyPcrs,
                               PublicKey pubkey, String pubkeyPem, byte[] salt, byte[] srk, boolean pcrlock,
                               NvPublic pcrlockNv, List<String> notes) {

    public static final String TYPE = "systemd-tpm2";
    private static final Set<String> KNOWN = Set.of("type", "keyslots", "tpm2-blob", "tpm2-pcrs", "tpm2-pcr-bank",
            "tpm2-primary-alg", "tpm2-policy-hash", "tpm2-pin", "tpm2_pubkey_pcrs", "tpm2_pubkey", "tpm2_salt", "tpm2_srk",
            "tpm2_pcrlock", "tpm2_pcrlock_nv");

    /**
     * Whether this tool can read the token: systemd ≥ 257 may store several blobs and policy hashes
     * (JSON arrays), which it cannot evaluate yet. The caller then reports the token as not evaluated.
     */
    public static String unsupported(Luks2Header.Token t) {
        JsonNode b = t.json().get("tpm2-blob");
        JsonNode h = t.json().get("tpm2-policy-hash");
        if ((b != null && b.isArray()) || (h != null && h.isArray())) {
            return "token " + t.id() + " (systemd-tpm2) holds several sealed blobs (systemd ≥ 257): not evaluated yet";
        }
        return null;
    }

    public static SystemdTpm2Token parse(Luks2Header.Token t, String where) {
        JsonNode j = t.json();
        String w = where + ": token " + t.id() + " (systemd-tpm2)";
        List<String> notes = new ArrayList<>();
        for (Iterator<String> it = j.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KNOWN.contains(k)) notes.add("unknown key '" + k + "' ignored (a newer systemd?)");
        }
        List<Integer> pcrs = pcrArray(j, "tpm2-pcrs", w, true);
        HashAlg bank = HashAlg.SHA256;
        if (j.has("tpm2-pcr-bank")) {
            String b = text(j, "tpm2-pcr-bank", w);
            try {
                bank = HashAlg.fromName(b);
            } catch (BadInputException e) {
                throw new BadInputException(w + ": tpm2-pcr-bank '" + b + "' is not a PCR bank");
            }
        }
        String primary = j.has("tpm2-primary-alg") ? text(j, "tpm2-primary-alg", w) : "ecc";
        if (!primary.equals("ecc") && !primary.equals("rsa")) throw new BadInputException(w + ": tpm2-primary-alg '" + primary + "' is not ecc or rsa");
        byte[] blobBytes = base64(j, "tpm2-blob", w, true);
        SealedObject blob = TpmPublic.splitBlob(blobBytes, w + " tpm2-blob");
        TpmPublic object = TpmPublic.parseArea(blob.publicArea(), w + " tpm2-blob");
        byte[] policyHash;
        try {
            policyHash = Hex.parse(text(j, "tpm2-policy-hash", w));
        } catch (BadInputException e) {
            throw new BadInputException(w + ": tpm2-policy-hash is not hex");
        }
        boolean pin = bool(j, "tpm2-pin", w);
        List<Integer> pubkeyPcrs = j.has("tpm2_pubkey_pcrs") ? pcrArray(j, "tpm2_pubkey_pcrs", w, false) : List.of();
        String pem = null;
        PublicKey key = null;
        if (j.has("tpm2_pubkey")) {
            pem = new String(base64(j, "tpm2_pubkey", w, true), StandardCharsets.UTF_8);
            key = PemKeys.publicKey(pem, w + ": tpm2_pubkey");
        } else if (!pubkeyPcrs.isEmpty()) {
            throw new BadInputException(w + ": tpm2_pubkey_pcrs is set but tpm2_pubkey is missing (systemd refuses such a token)");
        }
        byte[] salt = j.has("tpm2_salt") ? base64(j, "tpm2_salt", w, true) : null;
        byte[] srk = j.has("tpm2_srk") ? base64(j, "tpm2_srk", w, true) : null;
        boolean pcrlock = bool(j, "tpm2_pcrlock", w);
        NvPublic nv = j.has("tpm2_pcrlock_nv") ? NvPublic.fromTpm2b(base64(j, "tpm2_pcrlock_nv", w, true), w + ": tpm2_pcrlock_nv") : null;
        if (pcrlock && nv == null) throw new BadInputException(w + ": tpm2_pcrlock is set but tpm2_pcrlock_nv is missing");
        return new SystemdTpm2Token(t.id(), t.keyslots(), blob, object, pcrs, bank, primary, policyHash, pin, pubkeyPcrs,
                key, pem, salt, srk, pcrlock, nv, notes);
    }

    /**
     * The unlock route systemd-cryptsetup takes. {@code pcrlockPolicy}: the pcrlock metadata when
     * the policy file names it (else the AuthorizeNV step cannot be evaluated).
     */
    public UnlockRoute route(PcrlockPolicy pcrlockPolicy) {
        List<PolicyStep> steps = new ArrayList<>();
        List<String> n = new ArrayList<>(notes);
        if (!pubkeyPcrs.isEmpty()) {
            steps.add(new PolicyStep.Pcr(PcrSelection.of(bank, pubkeyPcrs)));
            // systemd loads the key with nameAlg sha256 and an empty policyRef
            steps.add(new PolicyStep.Authorize(pubkey, HashAlg.SHA256, new byte[0], bank, pubkeyPcrs));
        }
        if (pcrlock) steps.add(new PolicyStep.AuthorizeNv(pcrlockNv, pcrlockPolicy));
        if (!pcrs.isEmpty()) steps.add(new PolicyStep.Pcr(PcrSelection.of(bank, pcrs)));
        if (pin) {
            steps.add(new PolicyStep.AuthValue());
            n.add("a PIN is needed as well (tpm2-pin)");
        }
        if (!java.util.Arrays.equals(policyHash, object.authPolicy())) {
            n.add("tpm2-policy-hash " + Hex.of(policyHash) + " differs from the sealed object's authPolicy "
                    + Hex.of(object.authPolicy()) + ": systemd-cryptsetup refuses this token before asking the TPM");
        }
        String label = "token " + id + " (systemd-tpm2, keyslot" + (keyslots.size() == 1 ? " " : "s ") + join(keyslots) + ")";
        boolean open = object.authPolicy().length == 0 && !object.policyOnly();
        if (open) n.add("the sealed object has no authPolicy and userWithAuth: no PCR protects it");
        return new UnlockRoute(label, object.nameAlg(), object.authPolicy(), blob, steps, true, open, n);
    }

    private static String join(List<Integer> l) {
        StringBuilder sb = new StringBuilder();
        for (int i : l) {
            if (sb.length() > 0) sb.append(',');
            sb.append(i);
        }
        return sb.toString();
    }

    private static String text(JsonNode j, String key, String w) {
        JsonNode v = j.get(key);
        if (v == null) throw new BadInputException(w + ": '" + key + "' is missing");
        if (!v.isTextual()) throw new BadInputException(w + ": '" + key + "' is not a string");
        return v.asText();
    }

    private static boolean bool(JsonNode j, String key, String w) {
        JsonNode v = j.get(key);
        if (v == null) return false;
        if (!v.isBoolean()) throw new BadInputException(w + ": '" + key + "' is not a boolean");
        return v.asBoolean();
    }

    private static byte[] base64(JsonNode j, String key, String w, boolean required) {
        String s = text(j, key, w);
        try {
            return Base64.getMimeDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(w + ": '" + key + "' is not base64");
        }
    }

    /** systemd's PCR arrays: unsigned integers 0..23 (a mask: duplicates collapse). */
    private static List<Integer> pcrArray(JsonNode j, String key, String w, boolean required) {
        JsonNode v = j.get(key);
        if (v == null) {
            if (required) throw new BadInputException(w + ": '" + key + "' is missing");
            return List.of();
        }
        if (!v.isArray()) throw new BadInputException(w + ": '" + key + "' is not an array");
        TreeSet<Integer> s = new TreeSet<>();
        for (JsonNode e : v) {
            if (!e.canConvertToInt() || !e.isIntegralNumber() || e.asInt() < 0 || e.asInt() > 23) {
                throw new BadInputException(w + ": '" + key + "' holds " + e + ", not a PCR number 0..23");
            }
            s.add(e.asInt());
        }
        return List.copyOf(s);
    }
}
