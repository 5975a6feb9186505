package org.kexecmeasured.tpm.testing;

import com.sun.jna.Library;
import com.sun.jna.Native;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A character device stand-in for a real swtpm: a pseudo-terminal in raw mode whose slave path
 * behaves like /dev/tpmrmN (write one command, read one response), relayed to swtpm's TCP data
 * channel. Lets the {@code device:} transport run against a real TPM where no /dev/tpm* exists.
 */
public final class PtyTpmBridge implements AutoCloseable {
    interface LibC extends Library {
        LibC C = Native.load("c", LibC.class);

        int posix_openpt(int flags);

        int grantpt(int fd);

        int unlockpt(int fd);

        String ptsname(int fd);

        long read(int fd, byte[] buf, long count);

        long write(int fd, byte[] buf, long count);

        int close(int fd);

        int open(String path, int flags);
    }

    private static final int O_RDWR = 2;
    private static final int O_NOCTTY = 0400;

    private final int master;
    private final int slaveHold;
    private final Path slave;
    private final Socket socket;
    private final Thread relay;
    private volatile boolean closed;

    public PtyTpmBridge(int swtpmPort) throws IOException {
        master = LibC.C.posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || LibC.C.grantpt(master) != 0 || LibC.C.unlockpt(master) != 0) {
            throw new IOException("cannot allocate a pseudo-terminal");
        }
        slave = Path.of(LibC.C.ptsname(master));
        // raw: no echo, no CR/LF translation, no signals — bytes pass unchanged
        Swtpm.run("stty", "-F", slave.toString(), "raw", "-echo");
        // keep the slave open: while no slave fd is open, reads on the master fail with EIO
        slaveHold = LibC.C.open(slave.toString(), O_RDWR | O_NOCTTY);
        if (slaveHold < 0) throw new IOException("cannot open " + slave);
        socket = new Socket("127.0.0.1", swtpmPort);
        relay = new Thread(this::run, "pty-tpm-bridge");
        relay.setDaemon(true);
        relay.start();
    }

    /** The device path to open, e.g. /dev/pts/3. */
    public Path path() {
        return slave;
    }

    private void readMaster(byte[] b, int off, int len) throws IOException {
        byte[] tmp = new byte[len];
        int got = 0;
        while (got < len) {
            long n = LibC.C.read(master, tmp, len - got);
            if (n <= 0) throw new IOException("pty closed");
            System.arraycopy(tmp, 0, b, off + got, (int) n);
            got += (int) n;
        }
    }

    private void run() {
        try {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            while (!closed) {
                // whole command from the "device", then one write to swtpm (it needs ≥ 10 bytes at once)
                byte[] hdr = new byte[10];
                readMaster(hdr, 0, 10);
                int size = ByteBuffer.wrap(hdr, 2, 4).getInt();
                byte[] cmd = new byte[size];
                System.arraycopy(hdr, 0, cmd, 0, 10);
                readMaster(cmd, 10, size - 10);
                out.write(cmd);
                out.flush();
                byte[] rh = new byte[10];
                in.readFully(rh);
                byte[] resp = new byte[ByteBuffer.wrap(rh, 2, 4).getInt()];
                System.arraycopy(rh, 0, resp, 0, 10);
                in.readFully(resp, 10, resp.length - 10);
                LibC.C.write(master, resp, resp.length);
            }
        } catch (IOException e) {
            // bridge closed
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        socket.close();
        LibC.C.close(slaveHold);
        LibC.C.close(master);
    }
}
