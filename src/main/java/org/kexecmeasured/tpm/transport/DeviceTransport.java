package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.TpmTransportException;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Linux TPM character device (/dev/tpmrm0, /dev/tpmrmN, /dev/tpm0 …): one write() of the command,
 * one read() returns the whole response. The kernel driver enforces the TPM command timeouts.
 */
public final class DeviceTransport extends TpmTransport {
    private final RandomAccessFile file;
    private final FileChannel ch;

    public DeviceTransport(String tcti, Path path) {
        super(tcti);
        if (!Files.exists(path)) throw new TpmTransportException("TPM device " + path + " does not exist");
        try {
            this.file = new RandomAccessFile(path.toFile(), "rw");
            this.ch = file.getChannel();
        } catch (IOException e) {
            throw new TpmTransportException("cannot open TPM device " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    protected byte[] exchange(byte[] command) {
        String cmd = commandName(command);
        try {
            int n = ch.write(ByteBuffer.wrap(command));
            if (n != command.length) {
                throw new TpmTransportException(description() + ": short write of " + cmd + " (" + n + " of " + command.length + " bytes)");
            }
            ByteBuffer buf = ByteBuffer.allocate(MAX_RESPONSE);
            // the driver hands over the complete response in one read; loop only for pipes/odd devices
            while (buf.position() < HEADER || buf.position() < u32(buf.array(), 2)) {
                int r = ch.read(buf);
                if (r < 0) throw new TpmTransportException(description() + ": end of file while reading the response to " + cmd);
                if (buf.position() >= 6 && (u32(buf.array(), 2) > MAX_RESPONSE || u32(buf.array(), 2) < HEADER)) {
                    throw new TpmTransportException(description() + ": response to " + cmd + " has impossible size " + u32(buf.array(), 2));
                }
            }
            byte[] out = new byte[u32(buf.array(), 2)];
            System.arraycopy(buf.array(), 0, out, 0, out.length);
            return out;
        } catch (IOException e) {
            throw new TpmTransportException("I/O error on TPM device " + description() + " during " + cmd + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            file.close();
        } catch (IOException ignored) {
            // closing a device cannot lose data
        }
    }
}
