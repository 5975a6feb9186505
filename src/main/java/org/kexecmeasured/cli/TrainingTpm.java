package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.NvPublic;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PolicySession;
import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmInfo;
import org.kexecmeasured.tpm.TpmPublic;
import org.kexecmeasured.util.HashAlg;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Build step only: the PCRs of a TPM held in this process, for {@link CdsTraining}'s {@code boot --no-load}, so that
 * the class-data-sharing archive's training runs the measured boot's whole flow (plan, decide, sidecar, commit through
 * the extend pipeline, journal, outputs) on a build machine that has no TPM and must not need swtpm. It holds the 24
 * PCRs of the given banks at their reset values (0…0; PCRs 17-22 F…F, as a TPM after a locality-0 start) and extends
 * them as a TPM does; it seals nothing (the sealing part fails: a boot without a policy never asks for it). Never
 * reachable from a command line: only the training passes it, through {@link Services#withTpm}.
 */
final class TrainingTpm implements Tpm {

    private static final int PCRS = 24;

    private final String tcti;
    private final List<HashAlg> banks;
    private final Map<HashAlg, byte[][]> pcrs = new EnumMap<>(HashAlg.class);
    private final TreeMap<Integer, Long> commands = new TreeMap<>();

    TrainingTpm(String tcti, List<HashAlg> banks) {
        this.tcti = tcti;
        this.banks = List.copyOf(banks);
        for (HashAlg bank : banks) {
            byte[][] values = new byte[PCRS][];
            for (int i = 0; i < PCRS; i++) {
                values[i] = new byte[bank.size];
                if (i >= 17 && i <= 22) Arrays.fill(values[i], (byte) 0xFF);
            }
            pcrs.put(bank, values);
        }
    }

    private void count(int commandCode) {
        commands.merge(commandCode, 1L, Long::sum);
    }

    @Override
    public String tcti() {
        return tcti;
    }

    @Override
    public TpmInfo info() {
        count(CommandCode.GET_CAPABILITY);
        return new TpmInfo("KXMT", "cds training", 0, 0, "2.0", "1.64", 4096, 4096, 64, PCRS, banks, banks);
    }

    @Override
    public List<HashAlg> banks() {
        return banks;
    }

    @Override
    public Map<HashAlg, byte[][]> readPcrs(PcrSelection selection) {
        count(CommandCode.PCR_READ);
        Map<HashAlg, byte[][]> out = new LinkedHashMap<>();
        for (HashAlg bank : selection.banks()) {
            List<Integer> selected = selection.pcrs(bank);
            byte[][] values = new byte[selected.isEmpty() ? 0 : selected.get(selected.size() - 1) + 1][];
            byte[][] have = pcrs.get(bank);
            if (have != null) for (int p : selected) if (p < PCRS) values[p] = have[p].clone();
            out.put(bank, values);
        }
        return out;
    }

    @Override
    public byte[] random(int n) {
        count(CommandCode.GET_RANDOM);
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    @Override
    public void extend(int pcr, Map<HashAlg, byte[]> digests) {
        if (!digests.keySet().equals(pcrs.keySet())) throw new IllegalArgumentException("an extend of every active bank, no other");
        count(CommandCode.PCR_EXTEND);
        digests.forEach((bank, d) -> pcrs.get(bank)[pcr] = bank.extend(pcrs.get(bank)[pcr], d));
    }

    @Override
    public long commandCount() {
        return commands.values().stream().mapToLong(Long::longValue).sum();
    }

    @Override
    public SortedMap<Integer, Long> commandCounts() {
        return Collections.unmodifiableSortedMap(new TreeMap<>(commands));
    }

    @Override
    public void close() {
    }

    private static UnsupportedOperationException sealing() {
        return new UnsupportedOperationException("the class-data-sharing training's TPM holds PCRs only");
    }

    @Override
    public PolicySession startPolicySession(HashAlg alg, boolean trial) {
        throw sealing();
    }

    @Override
    public SealedObject seal(byte[] secret, byte[] authPolicy) {
        throw sealing();
    }

    @Override
    public SealedObject seal(byte[] secret, byte[] authPolicy, byte[] authValue) {
        throw sealing();
    }

    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session) {
        throw sealing();
    }

    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session, byte[] authValue) {
        throw sealing();
    }

    @Override
    public TpmPublic readPublic(int handle) {
        throw sealing();
    }

    @Override
    public NvPublic nvReadPublic(int nvIndex) {
        throw sealing();
    }

    @Override
    public byte[] nvReadAsOwner(int nvIndex, int size) {
        throw sealing();
    }
}
