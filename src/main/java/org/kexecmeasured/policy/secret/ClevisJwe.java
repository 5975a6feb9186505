package org.kexecmeasured.policy.secret;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.tpm.TpmPublic;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BeReader;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.TreeSet;

/**
 * A Clevis JWE (RFC 7516; compact serialization as {@code clevis encrypt} writes it, or the
 * flattened JSON serialization {@code clevis luks bind} stores in a LUKS2 {@code clevis} token).
 * Only the protected header is read: {@code clevis.pin} and, for the {@code tpm2} pin,
 * {@code clevis.tpm2} = {hash, key, pcr_bank, pcr_ids, jwk_pub, jwk_priv}, where jwk_pub/jwk_priv
 * are base64url of the sealed object's TPM2B_PUBLIC / TPM2B_PRIVATE (tpm2_create -u/-r files). The
 * pin seals with PolicyPCR(pcr_bank:pcr_ids) only (clevis-encrypt-tpm2: tpm2_createpolicy
 * --policy-pcr), or with no policy at all when pcr_ids is absent.
 */
public record ClevisJwe(String pin, HashAlg pcrBank, List<Integer> pcrIds, SealedObject sealed, TpmPublic object,
                        JsonNode header) {
    /** A JWE is a few KiB; far larger input is refused before it is decoded. */
    public static final int MAX_CHARS = 1 << 20;

    /** Parses a JWE in compact or JSON serialization; {@code where} names it in errors. */
    public static ClevisJwe parse(String text, String where) {
        if (text.length() > MAX_CHARS) throw new BadInputException(where + ": a JWE longer than " + MAX_CHARS + " characters is refused");
        String t = text.strip();
        String protectedB64;
        if (t.startsWith("{")) {
            JsonNode j;
            try {
                j = Json.MAPPER.readTree(t);
            } catch (IOException e) {
                throw new BadInputException(where + ": not a JWE (JSON serialization that is not JSON: "
                        + e.getMessage().lines().findFirst().orElse("") + ")");
            }
            protectedB64 = jsonProtected(j, where);
        } else {
            String[] parts = t.split("\\.", -1);
            if (parts.length != 5) {
                throw new BadInputException(where + ": not a JWE in compact serialization (" + parts.length + " dot-separated parts, expected 5)");
            }
            protectedB64 = parts[0];
        }
        return fromHeader(decodeHeader(protectedB64, where), where);
    }

    /** From the JSON value of a LUKS2 clevis token's "jwe" (flattened JSON serialization). */
    public static ClevisJwe fromJson(JsonNode jwe, String where) {
        return fromHeader(decodeHeader(jsonProtected(jwe, where), where), where);
    }

    private static String jsonProtected(JsonNode j, String where) {
        if (j == null || !j.isObject()) throw new BadInputException(where + ": the JWE is not a JSON object");
        JsonNode p = j.get("protected");
        if (p == null && j.has("recipients")) {
            throw new BadInputException(where + ": a JWE with several recipients (general JSON serialization) is not a Clevis JWE");
        }
        if (p == null || !p.isTextual()) throw new BadInputException(where + ": JWE 'protected' header missing or not a string");
        return p.asText();
    }

    private static JsonNode decodeHeader(String b64, String where) {
        byte[] raw;
        try {
            raw = Base64.getUrlDecoder().decode(b64);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(where + ": the JWE protected header is not base64url");
        }
        try {
            JsonNode h = Json.MAPPER.readTree(new String(raw, StandardCharsets.UTF_8));
            if (h == null || !h.isObject()) throw new BadInputException(where + ": the JWE protected header is not a JSON object");
            return h;
        } catch (IOException e) {
            throw new BadInputException(where + ": the JWE protected header is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    private static ClevisJwe fromHeader(JsonNode h, String where) {
        JsonNode clevis = h.get("clevis");
        if (clevis == null || !clevis.isObject()) throw new BadInputException(where + ": no 'clevis' object in the JWE protected header (not made by Clevis)");
        JsonNode pinNode = clevis.get("pin");
        if (pinNode == null || !pinNode.isTextual()) throw new BadInputException(where + ": clevis.pin missing or not a string");
        String pin = pinNode.asText();
        if (!pin.equals("tpm2")) return new ClevisJwe(pin, null, List.of(), null, null, h);
        JsonNode c = clevis.get("tpm2");
        if (c == null || !c.isObject()) throw new BadInputException(where + ": clevis.tpm2 missing or not an object");
        String w = where + ": clevis.tpm2";
        byte[] pub = b64url(c, "jwk_pub", w);
        byte[] priv = b64url(c, "jwk_priv", w);
        TpmPublic object = TpmPublic.fromTpm2b(pub, w + ".jwk_pub");
        BeReader pr = new BeReader(priv, w + ".jwk_priv");
        byte[] privArea = pr.sized("TPM2B_PRIVATE", 2048);
        pr.expectEnd();
        if (privArea.length == 0) throw new BadInputException(w + ".jwk_priv: empty TPM2B_PRIVATE");
        HashAlg bank = null;
        List<Integer> ids = List.of();
        if (c.has("pcr_ids")) {
            ids = pcrIds(c.get("pcr_ids"), w + ".pcr_ids");
            // clevis-encrypt-tpm2's default bank is sha1
            String b = c.has("pcr_bank") ? text(c, "pcr_bank", w) : "sha1";
            try {
                bank = HashAlg.fromName(b);
            } catch (BadInputException e) {
                throw new BadInputException(w + ".pcr_bank: '" + b + "' is not a PCR bank");
            }
        }
        return new ClevisJwe(pin, bank, ids, new SealedObject(object.area(), privArea), object, h);
    }

    /** "7,11" as clevis stores it; a JSON array of numbers or strings is accepted too (clevis' own config input). */
    private static List<Integer> pcrIds(JsonNode v, String w) {
        List<String> parts = new ArrayList<>();
        if (v.isTextual()) {
            for (String s : v.asText().split(",", -1)) parts.add(s.strip());
        } else if (v.isArray()) {
            for (JsonNode e : v) parts.add(e.isTextual() || e.isIntegralNumber() ? e.asText() : "?");
        } else if (v.isIntegralNumber()) {
            parts.add(v.asText());
        } else {
            throw new BadInputException(w + ": not a PCR list");
        }
        TreeSet<Integer> s = new TreeSet<>();
        for (String p : parts) {
            try {
                int n = Integer.parseInt(p);
                if (n < 0 || n > 23) throw new NumberFormatException();
                s.add(n);
            } catch (NumberFormatException e) {
                throw new BadInputException(w + ": '" + p + "' is not a PCR number 0..23");
            }
        }
        if (s.isEmpty()) throw new BadInputException(w + ": empty PCR list");
        return List.copyOf(s);
    }

    private static String text(JsonNode j, String key, String w) {
        JsonNode v = j.get(key);
        if (v == null || !v.isTextual()) throw new BadInputException(w + "." + key + " missing or not a string");
        return v.asText();
    }

    private static byte[] b64url(JsonNode j, String key, String w) {
        String s = text(j, key, w);
        try {
            return Base64.getUrlDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(w + "." + key + " is not base64url");
        }
    }

    /** The route clevis decrypt takes: load the object, PolicyPCR(pcr_bank:pcr_ids), unseal. */
    public UnlockRoute route(String label) {
        if (object == null) throw new IllegalStateException("not a tpm2 pin");
        List<PolicyStep> steps = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        if (!pcrIds.isEmpty()) steps.add(new PolicyStep.Pcr(PcrSelection.of(pcrBank, pcrIds)));
        boolean open = object.authPolicy().length == 0 && !object.policyOnly();
        if (open) notes.add("sealed without a PCR policy (userWithAuth): any boot on this TPM can unseal it");
        return new UnlockRoute(label, object.nameAlg(), object.authPolicy(), sealed, steps, true, open, notes);
    }
}
