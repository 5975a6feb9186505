package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.error.TpmTransportException;

import java.io.EOFException;
import java.io.IOException;

/**
 * A TPM reached over a byte stream (swtpm raw, MS simulator): one command in flight, a deadline per
 * command, and the stream abandoned after any failure mid-command, since it is no longer in step
 * with the TPM (a late response must never be read as the answer to the next command).
 */
abstract class SocketTransport extends TpmTransport {
    protected final StreamSocket sock;
    protected final long timeoutMs;

    SocketTransport(String tcti, StreamSocket sock, long timeoutMs) {
        super(tcti);
        this.sock = sock;
        this.timeoutMs = timeoutMs;
    }

    /** Sends one command and reads its response, framed as the peer expects. */
    protected abstract byte[] roundTrip(byte[] command, String cmd, long deadline, String during) throws IOException;

    @Override
    protected final byte[] exchange(byte[] command) {
        String cmd = commandName(command);
        sock.checkUsable(cmd);
        try {
            long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
            String during = "from the TPM at " + description() + " within " + timeoutMs + " ms to " + cmd;
            try {
                return roundTrip(command, cmd, deadline, during);
            } catch (EOFException e) {
                throw new TpmTransportException("the TPM at " + description() + " closed the connection while " + cmd
                        + " was in progress (TPM stopped or killed?)", e);
            } catch (StreamSocket.TimeoutIOException e) {
                throw new TpmTransportException(e.getMessage(), e);
            } catch (IOException e) {
                // typically "Connection reset": the TPM process died with our command unread
                throw new TpmTransportException("the connection to the TPM at " + description() + " failed while " + cmd
                        + " was in progress (TPM stopped or killed?): " + e.getMessage(), e);
            }
        } catch (TpmTransportException e) {
            sock.abandon(e.getMessage());
            throw e;
        }
    }

    @Override
    public void close() {
        sock.close();
    }
}
