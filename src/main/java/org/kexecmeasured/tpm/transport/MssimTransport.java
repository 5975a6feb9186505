package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.TpmTransportException;

import java.io.EOFException;
import java.io.IOException;

/**
 * The Microsoft TPM simulator command protocol (also understood by swtpm's data channel):
 * {u32 TPM_SEND_COMMAND=8, u8 locality, u32 size, command} in one write; reply {u32 size,
 * response, u32 ack=0}. Only the command port is used: no platform (power/NV) signals are sent,
 * so the simulator must already be powered on and started.
 */
public final class MssimTransport extends TpmTransport {
    private static final int TPM_SEND_COMMAND = 8;
    private final StreamSocket sock;
    private final long timeoutMs;
    private final int locality;

    public MssimTransport(String tcti, String host, int port, int locality, long timeoutMs) {
        super(tcti);
        this.sock = StreamSocket.tcp(host, port, timeoutMs, tcti);
        this.timeoutMs = timeoutMs;
        this.locality = locality;
    }

    @Override
    protected byte[] exchange(byte[] command) {
        String cmd = commandName(command);
        sock.checkUsable(cmd);
        try {
            return exchangeOnce(command, cmd);
        } catch (TpmTransportException e) {
            // whatever failed mid-command, the stream is no longer in step with the TPM
            sock.abandon(e.getMessage());
            throw e;
        }
    }

    private byte[] exchangeOnce(byte[] command, String cmd) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        String during = "from the TPM at " + description() + " within " + timeoutMs + " ms to " + cmd;
        byte[] framed = new byte[9 + command.length];
        put32(framed, 0, TPM_SEND_COMMAND);
        framed[4] = (byte) locality;
        put32(framed, 5, command.length);
        System.arraycopy(command, 0, framed, 9, command.length);
        try {
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
        } catch (EOFException e) {
            throw new TpmTransportException("the TPM at " + description() + " closed the connection while " + cmd
                    + " was in progress (simulator stopped or killed?)", e);
        } catch (StreamSocket.TimeoutIOException e) {
            throw new TpmTransportException(e.getMessage(), e);
        } catch (IOException e) {
            // typically "Connection reset": the TPM process died with our command unread
            throw new TpmTransportException("the connection to the TPM at " + description() + " failed while " + cmd
                    + " was in progress (TPM stopped or killed?): " + e.getMessage(), e);
        }
    }

    static void put32(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 24);
        b[off + 1] = (byte) (v >>> 16);
        b[off + 2] = (byte) (v >>> 8);
        b[off + 3] = (byte) v;
    }

    @Override
    public void close() {
        sock.close();
    }
}
