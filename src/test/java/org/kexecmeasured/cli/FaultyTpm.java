package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.PolicySession;
import org.kexecmeasured.tpm.SealedObject;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmInfo;
import org.kexecmeasured.tpm.error.TpmTransportException;
import org.kexecmeasured.util.HashAlg;

import java.util.List;
import java.util.Map;

/**
 * A seam around a real TPM that makes the k-th PCR_Extend go wrong in a chosen way. The TPM behind it
 * is real (swtpm): what reached it is read back from it, never from this wrapper.
 */
final class FaultyTpm implements Tpm {

    enum Fault {
        /** Runs {@code beforeFault} (e.g. kill swtpm), then sends the extend to the dead TPM. */
        ACTION_THEN_SEND,
        /** The connection drops before the command goes out: the extend never reaches the TPM. */
        DROP_BEFORE_SEND,
        /** The extend is performed, then the answer is lost. */
        LOSE_ANSWER
    }

    private final Tpm real;
    private final int k;
    private final Fault fault;
    private final Runnable beforeFault;
    private int extendCalls;

    FaultyTpm(Tpm real, int k, Fault fault, Runnable beforeFault) {
        this.real = real;
        this.k = k;
        this.fault = fault;
        this.beforeFault = beforeFault;
    }

    @Override
    public void extend(int pcr, Map<HashAlg, byte[]> digests) {
        if (++extendCalls != k) {
            real.extend(pcr, digests);
            return;
        }
        switch (fault) {
            case ACTION_THEN_SEND -> {
                beforeFault.run();
                real.extend(pcr, digests);
            }
            case DROP_BEFORE_SEND -> throw new TpmTransportException("connection reset (test fault before extend #" + k + ")");
            case LOSE_ANSWER -> {
                real.extend(pcr, digests);
                throw new TpmTransportException("connection reset (test fault after extend #" + k + ")");
            }
            default -> throw new IllegalStateException();
        }
    }

    @Override
    public String tcti() {
        return real.tcti();
    }

    @Override
    public TpmInfo info() {
        return real.info();
    }

    @Override
    public List<HashAlg> banks() {
        return real.banks();
    }

    @Override
    public Map<HashAlg, byte[][]> readPcrs(PcrSelection selection) {
        return real.readPcrs(selection);
    }

    @Override
    public long commandCount() {
        return real.commandCount();
    }

    @Override
    public java.util.SortedMap<Integer, Long> commandCounts() {
        return real.commandCounts();
    }

    @Override
    public byte[] random(int n) {
        return real.random(n);
    }

    @Override
    public PolicySession startPolicySession(HashAlg alg, boolean trial) {
        return real.startPolicySession(alg, trial);
    }

    @Override
    public SealedObject seal(byte[] secret, byte[] authPolicy) {
        return real.seal(secret, authPolicy);
    }

    @Override
    public SealedObject seal(byte[] secret, byte[] authPolicy, byte[] authValue) {
        return real.seal(secret, authPolicy, authValue);
    }

    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session) {
        return real.unseal(sealed, session);
    }

    @Override
    public byte[] unseal(SealedObject sealed, PolicySession session, byte[] authValue) {
        return real.unseal(sealed, session, authValue);
    }

    @Override
    public org.kexecmeasured.tpm.TpmPublic readPublic(int handle) {
        return real.readPublic(handle);
    }

    @Override
    public org.kexecmeasured.tpm.NvPublic nvReadPublic(int nvIndex) {
        return real.nvReadPublic(nvIndex);
    }

    @Override
    public byte[] nvReadAsOwner(int nvIndex, int size) {
        return real.nvReadAsOwner(nvIndex, size);
    }

    @Override
    public void close() {
        real.close();
    }
}
