package org.kexecmeasured.policy.secret;

import org.kexecmeasured.util.BoundedFiles;

import com.fasterxml.jackson.databind.JsonNode;
import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The PCR policy systemd-pcrlock stores in an NV index (its metadata file, {@code pcrlock.json}:
 * pcrBank, pcrValues [{pcr, values[]}], nvIndex, nvPublic …). The stored digest is systemd's
 * "super PCR" policy: one PolicyPCR over every PCR with a single allowed value (ascending), then, per
 * PCR with 2–8 allowed values (ascending), a PolicyOR over PolicyPCR of each value.
 */
public record PcrlockPolicy(HashAlg bank, SortedMap<Integer, List<byte[]>> values, NvPublic nvPublic, String source) {
    public static final long MAX_BYTES = 1 << 20;

    public static PcrlockPolicy read(Path file) {
        String name = file.toString();
        byte[] b;
        try {
            if (Files.size(file) > MAX_BYTES) throw new BadInputException(name + ": larger than " + MAX_BYTES + " bytes");
            b = BoundedFiles.read(file, BoundedFiles.TEXT);
        } catch (IOException e) {
            throw new BadInputException(name + ": cannot read the pcrlock policy: " + e.getMessage());
        }
        JsonNode j;
        try {
            j = Json.MAPPER.readTree(b);
        } catch (IOException e) {
            throw new BadInputException(name + ": not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (j == null || !j.isObject()) throw new BadInputException(name + ": not a JSON object");
        JsonNode bankNode = j.get("pcrBank");
        if (bankNode == null || !bankNode.isTextual()) throw new BadInputException(name + ": 'pcrBank' missing or not a string");
        HashAlg bank = HashAlg.fromName(bankNode.asText());
        JsonNode pv = j.get("pcrValues");
        if (pv == null || !pv.isArray()) throw new BadInputException(name + ": 'pcrValues' missing or not an array");
        SortedMap<Integer, List<byte[]>> values = new TreeMap<>();
        int i = 0;
        for (JsonNode e : pv) {
            String where = name + ": pcrValues[" + i++ + "]";
            JsonNode nr = e.get("pcr");
            JsonNode vs = e.get("values");
            if (nr == null || !nr.canConvertToInt() || nr.asInt() < 0 || nr.asInt() > 23) throw new BadInputException(where + ": 'pcr' is not 0..23");
            if (vs == null || !vs.isArray()) throw new BadInputException(where + ": 'values' missing or not an array");
            List<byte[]> l = values.computeIfAbsent(nr.asInt(), k -> new ArrayList<>());
            for (JsonNode v : vs) {
                byte[] d = v.isTextual() ? Hex.parse(v.asText()) : null;
                if (d == null || d.length != bank.size) throw new BadInputException(where + ": a value is not a " + bank.tpmName + " digest in hex");
                if (l.stream().noneMatch(x -> Arrays.equals(x, d))) l.add(d);
            }
            if (l.size() > PolicyDigest.MAX_OR_BRANCHES) {
                throw new BadInputException(where + ": more than " + PolicyDigest.MAX_OR_BRANCHES + " alternatives for PCR " + nr.asInt());
            }
        }
        NvPublic nv = null;
        JsonNode np = j.get("nvPublic");
        if (np != null && np.isTextual()) nv = NvPublic.fromTpm2b(Base64.getDecoder().decode(np.asText()), name + ": nvPublic");
        return new PcrlockPolicy(bank, values, nv, name);
    }

    /** The digest systemd stores in the NV index (session hash {@code alg}). */
    public byte[] storedPolicy(HashAlg alg) {
        PolicyDigest d = PolicyDigest.start(alg);
        PcrSelection.Builder single = PcrSelection.builder();
        Map<HashAlg, byte[][]> singleValues = Map.of(bank, new byte[24][]);
        boolean any = false;
        for (Map.Entry<Integer, List<byte[]>> e : values.entrySet()) {
            if (e.getValue().size() != 1) continue;
            single.add(bank, e.getKey());
            singleValues.get(bank)[e.getKey()] = e.getValue().get(0);
            any = true;
        }
        if (any) d = d.policyPcr(single.build(), singleValues);
        for (Map.Entry<Integer, List<byte[]>> e : values.entrySet()) {
            if (e.getValue().size() < 2) continue;
            List<byte[]> branches = new ArrayList<>();
            for (byte[] v : e.getValue()) {
                byte[][] one = new byte[24][];
                one[e.getKey()] = v;
                branches.add(d.policyPcr(PcrSelection.of(bank, e.getKey()), Map.of(bank, one)).digest());
            }
            d = PolicyDigest.or(alg, branches);
        }
        return d.digest();
    }

    /** Null when the PCR values satisfy the policy, else the first PCR that does not, in words. */
    public String unmet(Map<HashAlg, byte[][]> state) {
        byte[][] v = state.get(bank);
        if (v == null) return "the state has no " + bank.tpmName + " bank";
        for (Map.Entry<Integer, List<byte[]>> e : values.entrySet()) {
            byte[] have = e.getKey() < v.length ? v[e.getKey()] : null;
            if (have == null || e.getValue().stream().noneMatch(x -> Arrays.equals(x, have))) {
                return "PCR " + e.getKey() + " " + bank.tpmName + " " + (have == null ? "unknown" : Hex.of(have))
                        + " is none of the " + e.getValue().size() + " value(s) pcrlock allows";
            }
        }
        return null;
    }
}
