package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.TpmTransportException;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Path;

/**
 * swtpm's data channel in raw mode: each command is sent in one write (swtpm starts processing
 * once ≥ 10 bytes arrived, so a split header is fragile), the response is read by its size field.
 */
public final class SwtpmSocketTransport extends TpmTransport {
    private final StreamSocket sock;
    private final long timeoutMs;

    private SwtpmSocketTransport(String tcti, StreamSocket sock, long timeoutMs) {
        super(tcti);
        this.sock = sock;
        this.timeoutMs = timeoutMs;
    }

    public static SwtpmSocketTransport tcp(String tcti, String host, int port, long timeoutMs) {
        return new SwtpmSocketTransport(tcti, StreamSocket.tcp(host, port, timeoutMs, tcti), timeoutMs);
    }

    public static SwtpmSocketTransport unix(String tcti, Path path, long timeoutMs) {
        return new SwtpmSocketTransport(tcti, StreamSocket.unix(path, timeoutMs, tcti), timeoutMs);
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
        try {
            sock.writeAll(command, deadline, during);
            byte[] hdr = new byte[HEADER];
            sock.readFully(hdr, 0, HEADER, deadline, during);
            int size = u32(hdr, 2);
            if (size < HEADER || size > MAX_RESPONSE) {
                throw new TpmTransportException(description() + ": response to " + cmd + " has impossible size " + size);
            }
            byte[] r = new byte[size];
            System.arraycopy(hdr, 0, r, 0, HEADER);
            sock.readFully(r, HEADER, size - HEADER, deadline, during);
            return r;
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
    }

    @Override
    public void close() {
        sock.close();
    }
}
