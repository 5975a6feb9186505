package org.kexecmeasured.e2e;

import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * tpm2_eventlog (tpm2-tools) as the independent replay: its "pcrs:" section read with a regex. The same
 * regex reads tpm2_pcrread's output (the guest saved it), which prints banks and PCRs the same way.
 */
public final class Tpm2EventlogOracle {
    private Tpm2EventlogOracle() {
    }

    public static Map<HashAlg, byte[][]> replay(Path log) {
        String out = RealParts.run(List.of("tpm2_eventlog", log.toString()), "tpm2-tools");
        int i = out.startsWith("pcrs:") ? 0 : out.indexOf("\npcrs:");
        if (i < 0) fail("tpm2_eventlog printed no pcrs: section for " + log);
        return banks(out.substring(i));
    }

    /** What {@code tpm2_pcrread sha1:all+sha256:all} printed in the guest (saved to a file). */
    static Map<HashAlg, byte[][]> pcrread(Path saved) {
        Map<HashAlg, byte[][]> m = banks(E2eRun.text(saved));
        if (m.isEmpty()) fail("no PCR bank in tpm2_pcrread's output " + saved + ":\n" + E2eRun.text(saved));
        return m;
    }

    private static Map<HashAlg, byte[][]> banks(String text) {
        Pattern bank = Pattern.compile("^  ([a-z0-9_]+):$");
        Pattern pcr = Pattern.compile("^    (\\d+) *: 0x([0-9a-fA-F]+)$");
        Map<HashAlg, byte[][]> m = new EnumMap<>(HashAlg.class);
        byte[][] cur = null;
        for (String line : text.split("\n")) {
            Matcher b = bank.matcher(line), p = pcr.matcher(line);
            if (b.matches()) {
                HashAlg a = HashAlg.fromName(b.group(1));
                cur = new byte[24][a.size];
                m.put(a, cur);
            } else if (p.matches() && cur != null) {
                cur[Integer.parseInt(p.group(1))] = HexFormat.of().parseHex(p.group(2));
            }
        }
        return m;
    }
}
