package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.error.TpmTransportException;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Linux TPM character device (/dev/tpmrm0, /dev/tpmrmN, /dev/tpm0 …): one write() of the command,
 * one read() returns the whole response. The kernel driver has its own TPM timeouts; ours (default
 * 2 minutes, enough for key generation on slow TPMs) also covers devices that never answer: a
 * watchdog closes the channel, which wakes the blocked read.
 */
public final class DeviceTransport extends TpmTransport {
    public static final long DEFAULT_TIMEOUT_MS = 120_000;
    private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "tpm-device-watchdog");
                t.setDaemon(true);
                return t;
            });
    private final RandomAccessFile file;
    private final FileChannel ch;
    private final long timeoutMs;

    public DeviceTransport(String tcti, Path path) {
        this(tcti, path, DEFAULT_TIMEOUT_MS);
    }

    public DeviceTransport(String tcti, Path path, long timeoutMs) {
        super(tcti);
        this.timeoutMs = timeoutMs;
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
        java.util.concurrent.atomic.AtomicBoolean expired = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.ScheduledFuture<?> dog = WATCHDOG.schedule(() -> {
            expired.set(true);
            close();
        }, timeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS);
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
            if (expired.get()) {
                throw new TpmTransportException("no answer from the TPM at " + description() + " within " + timeoutMs + " ms to " + cmd, e);
            }
            throw new TpmTransportException("I/O error on TPM device " + description() + " during " + cmd + ": " + e.getMessage(), e);
        } finally {
            dog.cancel(false);
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
