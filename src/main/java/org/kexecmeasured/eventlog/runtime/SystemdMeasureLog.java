package org.kexecmeasured.eventlog.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * systemd's userspace measurement log ({@code /run/log/systemd/tpm2-measure.log}, systemd 253+), JSON-SEQ
 * (RFC 7464: each record starts with 0x1E): {@code {"pcr": N, "digests": [{"hashAlg": "sha256", "digest": HEX}, …],
 * "content_type": "systemd", "content": {"eventType": "phase", "string": "enter-initrd", …}}}, records in the order
 * systemd wrote them (it takes a lock around log write and extend). systemd-pcrlock reads it the same way.
 * Digests of algorithms this tool does not know are skipped (that bank stays unexplained for the PCR).
 */
public final class SystemdMeasureLog {
    public static final String PATH = "/run/log/systemd/tpm2-measure.log";
    private static final byte RS = 0x1e;

    private SystemdMeasureLog() {
    }

    public static List<RuntimeRecord> parse(byte[] b) {
        List<RuntimeRecord> out = new ArrayList<>();
        int i = 0;
        while (i < b.length && b[i] != RS) {
            if (!Character.isWhitespace(b[i])) {
                throw new BadInputException("systemd TPM measurement log: data before the first record separator (0x1E) at offset " + i);
            }
            i++;
        }
        while (i < b.length) {
            int start = i + 1;
            int end = start;
            while (end < b.length && b[end] != RS) end++;
            byte[] text = Arrays.copyOfRange(b, start, end);
            if (!new String(text, StandardCharsets.UTF_8).isBlank()) out.add(record(out.size(), i, text));
            i = end;
        }
        return out;
    }

    private static RuntimeRecord record(int n, int offset, byte[] text) {
        JsonNode j;
        try {
            j = Json.MAPPER.readTree(text);
        } catch (java.io.IOException e) {
            throw bad(n, offset, "not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (j == null || !j.isObject()) throw bad(n, offset, "not a JSON object");
        JsonNode pcr = j.get("pcr");
        if (pcr == null || !pcr.canConvertToInt() || pcr.asInt() < 0 || pcr.asInt() > 23) {
            throw bad(n, offset, "\"pcr\" missing or out of range");
        }
        JsonNode digests = j.get("digests");
        if (digests == null || !digests.isArray()) throw bad(n, offset, "\"digests\" missing or not an array");
        Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
        for (JsonNode e : digests) {
            JsonNode alg = e.get("hashAlg"), hex = e.get("digest");
            if (alg == null || !alg.isTextual() || hex == null || !hex.isTextual()) {
                throw bad(n, offset, "a digests entry lacks \"hashAlg\" or \"digest\"");
            }
            HashAlg a;
            try {
                a = HashAlg.fromName(alg.asText());
            } catch (RuntimeException unknown) {
                continue;
            }
            byte[] v;
            try {
                v = Hex.parse(hex.asText());
            } catch (RuntimeException x) {
                throw bad(n, offset, alg.asText() + " digest is not hex");
            }
            if (v.length != a.size) throw bad(n, offset, alg.asText() + " digest has " + v.length + " bytes, not " + a.size);
            if (d.put(a, v) != null) throw bad(n, offset, "two " + alg.asText() + " digests");
        }
        JsonNode content = j.get("content");
        String desc = "systemd";
        if (content != null && content.isObject()) {
            String type = content.path("eventType").asText("");
            String s = content.path("string").asText("");
            desc = (type + " " + s).strip();
            if (desc.isEmpty()) desc = "systemd";
        }
        return new RuntimeRecord(RuntimeRecord.Source.SYSTEMD, n, pcr.asInt(), d, text, desc);
    }

    private static BadInputException bad(int n, int offset, String msg) {
        return new BadInputException("systemd TPM measurement log: record " + n + " at offset " + offset + ": " + msg);
    }
}
