package org.kexecmeasured.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay in front of a real swtpm's command port that holds every chunk a client sends for
 * {@code delayMillis} before passing it on, so a boot's commit lasts long enough for a kill to land
 * inside it. It changes no byte: the TPM behind it is the real one, and whatever reached it is read
 * from it directly (tpm2_pcrread), never through the relay.
 */
final class SlowTpmProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int targetPort;
    private final long delayMillis;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    SlowTpmProxy(int targetPort, long delayMillis) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        this.delayMillis = delayMillis;
        Thread t = new Thread(this::acceptLoop, "slow-tpm-proxy-" + server.getLocalPort());
        t.setDaemon(true);
        t.start();
    }

    /** The TCTI a client uses to reach the TPM through the relay. */
    String tcti() {
        return "swtpm:host=127.0.0.1,port=" + server.getLocalPort();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket tpm = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                sockets.add(client);
                sockets.add(tpm);
                pump(client, tpm, delayMillis);
                pump(tpm, client, 0);
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void pump(Socket from, Socket to, long delay) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (delay > 0) Thread.sleep(delay);
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // one side went away (the client was killed): close both
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "slow-tpm-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) closeQuietly(s);
    }
}
