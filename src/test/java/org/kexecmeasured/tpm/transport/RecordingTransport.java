package org.kexecmeasured.tpm.transport;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * A transport in front of a real one that keeps a copy of every command and response as they
 * crossed it — what a bus observer between host and TPM sees — and can alter a response on its way
 * back (an active interposer).
 */
public final class RecordingTransport extends TpmTransport {
    public record Exchange(int commandCode, byte[] command, byte[] response) {
    }

    private final TpmTransport inner;
    private final List<Exchange> log = new ArrayList<>();
    private BiFunction<Integer, byte[], byte[]> tamper = (cc, r) -> r;

    public RecordingTransport(TpmTransport inner) {
        super("recording:" + inner.description());
        this.inner = inner;
    }

    public List<Exchange> log() {
        return log;
    }

    /** Replaces responses on their way back (cc, response) → response. */
    public void tamper(BiFunction<Integer, byte[], byte[]> f) {
        tamper = f;
    }

    @Override
    protected byte[] exchange(byte[] command) {
        byte[] r = inner.transact(command.clone());
        int cc = u32(command, 6);
        byte[] out = tamper.apply(cc, r.clone());
        log.add(new Exchange(cc, command.clone(), out.clone()));
        return out;
    }

    @Override
    public void close() {
        inner.close();
    }
}
