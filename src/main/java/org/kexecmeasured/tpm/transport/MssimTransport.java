package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.error.TpmTransportException;

import java.io.IOException;

/**
 * The Microsoft TPM simulator command protocol (also understood by swtpm's data channel):
 * {u32 TPM_SEND_COMMAND=8, u8 locality, u32 size, command} in one write; reply {u32 size,
 * response, u32 ack=0}. Only the command port is used: no platform (power/NV) signals are sent,
 * so the simulator must already be powered on and started.
 */
public final class MssimTransport extends SocketTransport {
    private static final int TPM_SEND_COMMAND = 8;
    private final int locality;

    public MssimTransport(String tcti, String host, int port, int locality, long timeoutMs) {
        super(tcti, StreamSocket.tcp(host, port, timeoutMs, tcti), timeoutMs);
        this.locality = locality;
    }

    @Override
    protected byte[] roundTrip(byte[] command, String cmd, long deadline, String during) throws IOException {
        byte[] framed = new byte[9 + command.length];
        put32(framed, 0, TPM_SEND_COMMAND);
        framed[4] = (byte) locality;
        put32(framed, 5, command.length);
        System.arraycopy(command, 0, framed, 9, command.length);
        sock.writeAll(framed, deadline, during);
        byte[] len = new byte[4];
        sock.readFully(len, 0, 4, deadline, during);
        int size = u32(len, 0);
        if (size < HEADER || size > MAX_RESPONSE) {
            throw new TpmTransportException(description() + ": response to " + cmd + " has impossible size " + size);
        }
        byte[] r = new byte[size];
        sock.readFully(r, 0, size, deadline, during);
        byte[] ack = new byte[4];
        sock.readFully(ack, 0, 4, deadline, during);
        if (u32(ack, 0) != 0) {
            throw new TpmTransportException(description() + ": simulator acknowledged " + cmd + " with error " + u32(ack, 0));
        }
        return r;
    }

    static void put32(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 24);
        b[off + 1] = (byte) (v >>> 16);
        b[off + 2] = (byte) (v >>> 8);
        b[off + 3] = (byte) v;
    }
}
