package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.transport.TpmTransport;

import java.util.SortedMap;
import java.util.TreeMap;

/** TPM_CC values (TPM 2.0 Part 2, table 12) of the commands the measured boot sends or must not send. */
public final class CommandCode {
    public static final int GET_CAPABILITY = 0x0000017A;
    public static final int GET_RANDOM = 0x0000017B;
    public static final int PCR_READ = 0x0000017E;
    public static final int PCR_EXTEND = 0x00000182;

    private CommandCode() {
    }

    /** The commands sent between two readings of {@link PcrReader#commandCounts()}, by TPM_CC (codes with none left out). */
    public static SortedMap<Integer, Long> sentSince(SortedMap<Integer, Long> before, SortedMap<Integer, Long> after) {
        SortedMap<Integer, Long> d = new TreeMap<>();
        after.forEach((cc, n) -> {
            long x = n - before.getOrDefault(cc, 0L);
            if (x != 0) d.put(cc, x);
        });
        return d;
    }

    /** "TPM2_PCR_Read", or "TPM command 0x…" for a code TSS.Java does not name. */
    public static String name(int commandCode) {
        return TpmTransport.commandName(commandCode);
    }
}
