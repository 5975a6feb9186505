package org.kexecmeasured.eventlog;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.math.BigInteger;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Expected PCR values per bank, e.g. read from a TPM or a file. File formats accepted:
 * <ul>
 *   <li>YAML as {@code tpm2_pcrread} prints it ({@code sha256:\n  0 : 0x…}), or with a top-level
 *       {@code pcrs:} key as at the end of {@code tpm2_eventlog}'s output;</li>
 *   <li>JSON {@code {"sha256": {"0": "hex", …}, …}}, optionally under "pcrs" or "banks" (as
 *       {@code kexec-measured tpm pcrs --json} prints it).</li>
 * </ul>
 */
public final class PcrSet {
    private final Map<HashAlg, Map<Integer, byte[]>> values;

    public PcrSet(Map<HashAlg, Map<Integer, byte[]>> values) {
        Map<HashAlg, Map<Integer, byte[]>> m = new LinkedHashMap<>();
        values.forEach((k, v) -> m.put(k, Collections.unmodifiableMap(new TreeMap<>(v))));
        this.values = Collections.unmodifiableMap(m);
    }

    public Map<HashAlg, Map<Integer, byte[]>> values() {
        return values;
    }

    /** The PCR values of a replay, as a set (all 24 PCRs of each bank). */
    public static PcrSet of(Map<HashAlg, byte[][]> replay) {
        Map<HashAlg, Map<Integer, byte[]>> m = new LinkedHashMap<>();
        replay.forEach((bank, pcrs) -> {
            Map<Integer, byte[]> pm = new TreeMap<>();
            for (int i = 0; i < pcrs.length; i++) pm.put(i, pcrs[i].clone());
            m.put(bank, pm);
        });
        return new PcrSet(m);
    }

    /** Parses the text of a PCR file; BadInputException names what is wrong. */
    public static PcrSet parse(String text, String source) {
        Object root;
        try {
            LoaderOptions lo = new LoaderOptions();
            lo.setMaxAliasesForCollections(10);
            lo.setAllowDuplicateKeys(false);
            // no implicit typing: "0x00ab…" must stay text, or YAML would read it as a number and drop leading zeros
            org.yaml.snakeyaml.resolver.Resolver plain = new org.yaml.snakeyaml.resolver.Resolver() {
                @Override
                protected void addImplicitResolvers() {
                }
            };
            org.yaml.snakeyaml.DumperOptions dop = new org.yaml.snakeyaml.DumperOptions();
            root = new Yaml(new SafeConstructor(lo), new org.yaml.snakeyaml.representer.Representer(dop), dop, lo, plain).load(text);
        } catch (YAMLException e) {
            throw new BadInputException(source + ": not a YAML/JSON PCR file: " + firstLine(e.getMessage()));
        }
        if (root instanceof Map<?, ?> m && m.containsKey("pcrs")) root = m.get("pcrs");
        else if (root instanceof Map<?, ?> m && m.get("banks") instanceof Map<?, ?>) root = m.get("banks"); // `tpm pcrs --json`
        if (!(root instanceof Map<?, ?> banks) || banks.isEmpty()) {
            throw new BadInputException(source + ": expected a map of banks (sha1/sha256/…) to PCR values");
        }
        Map<HashAlg, Map<Integer, byte[]>> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> be : banks.entrySet()) {
            HashAlg bank = HashAlg.fromName(String.valueOf(be.getKey()));
            if (!(be.getValue() instanceof Map<?, ?> pcrs)) {
                if (be.getValue() == null) continue;
                throw new BadInputException(source + ": bank " + bank.tpmName + " is not a map of PCR index to value");
            }
            Map<Integer, byte[]> pm = new TreeMap<>();
            for (Map.Entry<?, ?> pe : pcrs.entrySet()) {
                int idx = pcrIndex(pe.getKey(), source, bank);
                pm.put(idx, value(pe.getValue(), bank, idx, source));
            }
            out.put(bank, pm);
        }
        return new PcrSet(out);
    }

    private static int pcrIndex(Object k, String source, HashAlg bank) {
        try {
            int i = k instanceof Number n ? n.intValue() : Integer.parseInt(String.valueOf(k).strip());
            if (i < 0 || i >= Replay.PCR_COUNT) throw new NumberFormatException();
            return i;
        } catch (NumberFormatException e) {
            throw new BadInputException(source + ": bank " + bank.tpmName + ": '" + k + "' is not a PCR index 0–23");
        }
    }

    private static byte[] value(Object v, HashAlg bank, int pcr, String source) {
        byte[] b;
        if (v instanceof Number n) {
            // YAML reads 0x… as an integer: restore the leading zeros from the digest size
            BigInteger bi = n instanceof BigInteger x ? x : BigInteger.valueOf(n.longValue());
            if (bi.signum() < 0 || bi.bitLength() > bank.size * 8) {
                throw new BadInputException(source + ": " + bank.tpmName + " PCR " + pcr + " value does not fit " + bank.size + " bytes");
            }
            byte[] raw = bi.toByteArray();
            b = new byte[bank.size];
            int n0 = Math.min(raw.length, bank.size);
            System.arraycopy(raw, raw.length - n0, b, bank.size - n0, n0);
        } else if (v instanceof String s) {
            try {
                b = Hex.parse(s);
            } catch (BadInputException e) {
                throw new BadInputException(source + ": " + bank.tpmName + " PCR " + pcr + ": " + e.getMessage());
            }
        } else {
            throw new BadInputException(source + ": " + bank.tpmName + " PCR " + pcr + ": value is not a hex string");
        }
        if (b.length != bank.size) {
            throw new BadInputException(source + ": " + bank.tpmName + " PCR " + pcr + " has " + b.length
                    + " bytes, expected " + bank.size);
        }
        return b;
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }
}
