package org.kexecmeasured.tpm.bench;

import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PolicySession;
import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmFactory;
import org.kexecmeasured.tpm.policy.PolicyDigest;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Prints TPM-layer numbers (commands and time per operation, cold and warm) for a TCTI:
 * {@code java -cp … org.kexecmeasured.tpm.bench.TpmBench swtpm:host=127.0.0.1,port=N}. Run by
 * tests/bench/tpm-bench; not a test.
 */
public final class TpmBench {
    private interface Op {
        void run(Tpm tpm);
    }

    public static void main(String[] args) {
        String tcti = args.length > 0 ? args[0] : null;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        try (Tpm tpm = TpmFactory.open(tcti)) {
            List<HashAlg> banks = tpm.banks();
            List<Integer> all = new ArrayList<>();
            for (int i = 0; i < 24; i++) all.add(i);
            PcrSelection sel = PcrSelection.of(banks, all);
            Map<HashAlg, byte[]> d = new EnumMap<>(HashAlg.class);
            for (HashAlg a : banks) d.put(a, a.digest(new byte[]{1}));
            PcrSelection p7 = PcrSelection.of(HashAlg.SHA256, 7, 11);
            System.out.printf("TPM %s, banks %s, %d rounds%n", tpm.tcti(), banks, rounds);
            measure(tpm, "readPcrs 0-23 x " + banks.size() + " banks", rounds, t -> t.readPcrs(sel));
            measure(tpm, "extend 1 PCR, all banks", rounds, t -> t.extend(16, d));
            measure(tpm, "trial PolicyPCR(7,11)+AuthValue+GetDigest", rounds, t -> {
                try (PolicySession s = t.startPolicySession(HashAlg.SHA256, true)) {
                    s.policyPcr(p7);
                    s.policyAuthValue();
                    s.digest();
                }
            });
            byte[] policy = PolicyDigest.start(HashAlg.SHA256).policyPcr(p7, tpm.readPcrs(p7)).digest();
            SealedObject[] sealed = new SealedObject[1];
            measure(tpm, "seal 32 bytes (CreatePrimary ECC + Create)", Math.max(1, rounds / 10),
                    t -> sealed[0] = t.seal(new byte[32], policy));
            measure(tpm, "unseal under PolicyPCR(7,11)", Math.max(1, rounds / 10), t -> {
                try (PolicySession s = t.startPolicySession(HashAlg.SHA256, false)) {
                    s.policyPcr(p7);
                    t.unseal(sealed[0], s);
                }
            });
        }
    }

    private static void measure(Tpm tpm, String what, int rounds, Op op) {
        long c0 = tpm.commandCount();
        long t0 = System.nanoTime();
        op.run(tpm);
        long cold = System.nanoTime() - t0;
        long cmds = tpm.commandCount() - c0;
        t0 = System.nanoTime();
        for (int i = 0; i < rounds; i++) op.run(tpm);
        double warm = (System.nanoTime() - t0) / 1e6 / rounds;
        System.out.printf("  %-48s %3d TPM commands  first %8.2f ms  then %7.2f ms each%n", what, cmds, cold / 1e6, warm);
    }
}
