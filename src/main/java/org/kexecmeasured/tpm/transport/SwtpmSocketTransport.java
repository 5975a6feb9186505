package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.error.TpmTransportException;

import java.io.IOException;
import java.nio.file.Path;

/**
 * swtpm's data channel in raw mode: each command is sent in one write (swtpm starts processing
 * once ≥ 10 bytes arrived, so a split header is fragile), the response is read by its size field.
 */
public final class SwtpmSocketTransport extends SocketTransport {

    private SwtpmSocketTransport(String tcti, StreamSocket sock, long timeoutMs) {
        super(tcti, sock, timeoutMs);
    }

    public static SwtpmSocketTransport tcp(String tcti, String host, int port, long timeoutMs) {
        return new SwtpmSocketTransport(tcti, StreamSocket.tcp(host, port, timeoutMs, tcti), timeoutMs);
    }

    public static SwtpmSocketTransport unix(String tcti, Path path, long timeoutMs) {
        return new SwtpmSocketTransport(tcti, StreamSocket.unix(path, timeoutMs, tcti), timeoutMs);
    }

    @Override
    protected byte[] roundTrip(byte[] command, String cmd, long deadline, String during) throws IOException {
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
    }
}
