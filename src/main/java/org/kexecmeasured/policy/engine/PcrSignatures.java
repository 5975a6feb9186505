package org.kexecmeasured.policy.engine;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * systemd's signed PCR policies, {@code tpm2-pcr-signature.json} (the .pcrsig section of a UKI,
 * systemd-measure sign's output): per bank, one entry per boot phase with {@code pcrs} (the PCRs
 * of the signed PolicyPCR), {@code pkfp} (hex SHA-256 of the signing key's DER SubjectPublicKeyInfo),
 * {@code pol} (hex PolicyPCR digest, session hash sha256) and {@code sig} (base64 signature over pol).
 * Entries that lack a field are skipped, as systemd's find_signature() skips them.
 */
public record PcrSignatures(Map<String, List<Entry>> banks) {

    /** One signed policy; field order as systemd-measure writes it. */
    public record Entry(List<Integer> pcrs, String pkfp, String pol, String sig) {
        public Entry {
            pcrs = List.copyOf(pcrs);
        }
    }

    public PcrSignatures {
        Map<String, List<Entry>> m = new LinkedHashMap<>();
        banks.forEach((k, v) -> m.put(k, List.copyOf(v)));
        banks = java.util.Collections.unmodifiableMap(m);
    }

    public List<Entry> bank(String bank) {
        return banks.getOrDefault(bank, List.of());
    }

    /** The JSON systemd reads (banks in the order given, entries as systemd-measure writes them). */
    public byte[] toJson() {
        try {
            return Json.MAPPER.writeValueAsBytes(banks);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static PcrSignatures parse(byte[] json, String where) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new BadInputException(where + ": not JSON: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
        return parse(root, where);
    }

    public static PcrSignatures parse(JsonNode root, String where) {
        if (root == null || !root.isObject()) throw new BadInputException(where + ": a PCR signature file is a JSON object of banks");
        Map<String, List<Entry>> banks = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> b = it.next();
            if (!b.getValue().isArray()) throw new BadInputException(where + ": bank '" + b.getKey() + "' is not an array");
            List<Entry> entries = new ArrayList<>();
            int i = 0;
            for (JsonNode e : b.getValue()) {
                String w = where + ": " + b.getKey() + "[" + i++ + "]";
                if (!e.isObject()) throw new BadInputException(w + ": not a JSON object");
                JsonNode pcrs = e.get("pcrs");
                JsonNode pkfp = e.get("pkfp");
                JsonNode pol = e.get("pol");
                JsonNode sig = e.get("sig");
                if (pcrs == null || pkfp == null || pol == null || sig == null) continue;
                if (!pcrs.isArray()) throw new BadInputException(w + ": 'pcrs' is not an array");
                List<Integer> l = new ArrayList<>();
                for (JsonNode p : pcrs) {
                    if (!p.isIntegralNumber() || p.asInt() < 0 || p.asInt() > 23) {
                        throw new BadInputException(w + ": 'pcrs' holds " + p + ", not a PCR number 0..23");
                    }
                    if (!l.contains(p.asInt())) l.add(p.asInt());
                }
                l.sort(null);
                if (!pkfp.isTextual() || !pol.isTextual() || !sig.isTextual()) {
                    throw new BadInputException(w + ": 'pkfp', 'pol' and 'sig' must be strings");
                }
                entries.add(new Entry(l, pkfp.asText(), pol.asText(), sig.asText()));
            }
            banks.put(b.getKey(), entries);
        }
        return new PcrSignatures(banks);
    }
}
