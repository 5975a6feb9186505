package org.kexecmeasured.tpm.transport;

import org.kexecmeasured.tpm.error.TpmTransportException;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * A TCP or Unix stream socket with deadlines on connect, write and read, so a TPM that vanishes
 * or stops answering gives an error instead of a hang. Non-blocking channel + selector because
 * socket timeouts do not apply to channels (and Unix sockets only exist as channels).
 */
final class StreamSocket implements AutoCloseable {
    private final SocketChannel ch;
    private final Selector selector;
    private final String what;
    /** Why the connection was given up (null while usable); see {@link #abandon}. */
    private volatile String abandoned;

    private StreamSocket(SocketChannel ch, Selector selector, String what) {
        this.ch = ch;
        this.selector = selector;
        this.what = what;
    }

    static StreamSocket tcp(String host, int port, long timeoutMs, String what) {
        return open(new InetSocketAddress(host, port), null, timeoutMs, what);
    }

    static StreamSocket unix(Path path, long timeoutMs, String what) {
        return open(UnixDomainSocketAddress.of(path), StandardProtocolFamily.UNIX, timeoutMs, what);
    }

    private static StreamSocket open(SocketAddress addr, StandardProtocolFamily family, long timeoutMs, String what) {
        SocketChannel ch = null;
        Selector sel = null;
        try {
            ch = family == null ? SocketChannel.open() : SocketChannel.open(family);
            ch.configureBlocking(false);
            sel = Selector.open();
            // the option on the channel, not ch.socket().setTcpNoDelay: the socket adaptor that socket() builds costs
            // two JDK lambdas spun at run time on the boot's main thread (neither is in the class-data archive)
            if (family == null) ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            if (!ch.connect(addr)) {
                ch.register(sel, SelectionKey.OP_CONNECT);
                long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
                while (!ch.finishConnect()) {
                    long left = (deadline - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) throw new TpmTransportException("cannot connect to the TPM at " + what + ": timed out after " + timeoutMs + " ms");
                    sel.select(left);
                    sel.selectedKeys().clear();
                }
            }
            return new StreamSocket(ch, sel, what);
        } catch (IOException e) {
            closeQuietly(ch, sel);
            throw new TpmTransportException("cannot connect to the TPM at " + what + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch, sel);
            throw e;
        }
    }

    private static void closeQuietly(SocketChannel ch, Selector sel) {
        try {
            if (sel != null) sel.close();
        } catch (IOException ignored) {
            // nothing to do
        }
        try {
            if (ch != null) ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** Writes all bytes; in practice one write() call for TPM-sized buffers. */
    void writeAll(byte[] data, long deadlineNanos, String during) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            int n = ch.write(b);
            if (n == 0) await(SelectionKey.OP_WRITE, deadlineNanos, during);
        }
    }

    void readFully(byte[] dst, int off, int len, long deadlineNanos, String during) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(dst, off, len);
        while (b.hasRemaining()) {
            int n = ch.read(b);
            if (n < 0) throw new EOFException("connection closed by the TPM");
            if (n == 0) await(SelectionKey.OP_READ, deadlineNanos, during);
        }
    }

    private void await(int op, long deadlineNanos, String during) throws IOException {
        long left = (deadlineNanos - System.nanoTime()) / 1_000_000L;
        if (left <= 0) throw new TimeoutIOException(during);
        SelectionKey k = ch.register(selector, op);
        selector.select(left);
        selector.selectedKeys().clear();
        k.interestOps(0);
    }

    /**
     * Gives the connection up after a timeout or I/O error in the middle of a command: the TPM may
     * still answer it later, and that late answer would be read as the response to the next command
     * (e.g. a FlushContext in a finally block). The socket is closed and every later exchange fails.
     */
    void abandon(String why) {
        if (abandoned == null) abandoned = why;
        close();
    }

    /** Throws when {@link #abandon} was called: no command may be sent on a desynchronised stream. */
    void checkUsable(String cmd) {
        String why = abandoned;
        if (why != null) {
            throw new TpmTransportException("connection to the TPM was abandoned after an earlier timeout/error ("
                    + why + "); " + cmd + " was not sent to " + what + " (open a new connection)");
        }
    }

    /** Deadline expired. */
    static final class TimeoutIOException extends IOException {
        TimeoutIOException(String during) {
            super("no answer " + during);
        }
    }

    @Override
    public void close() {
        closeQuietly(ch, selector);
    }

    String what() {
        return what;
    }
}
