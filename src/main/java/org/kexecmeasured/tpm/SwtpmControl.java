package org.kexecmeasured.tpm;

import org.kexecmeasured.tpm.error.TpmTransportException;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Client for swtpm's control channel ({@code --ctrl type=tcp,port=P} or {@code type=unixio,path=…}):
 * big-endian u32 command codes (swtpm's tpm_ioctl.h), one connection per request. Used by tests
 * to reboot (INIT) or shut down a swtpm; never TSS.Java's MS-simulator power control.
 */
public final class SwtpmControl {
    public static final int CMD_GET_CAPABILITY = 0x01;
    public static final int CMD_INIT = 0x02;
    public static final int CMD_SHUTDOWN = 0x03;
    public static final int CMD_GET_TPMESTABLISHED = 0x04;
    public static final int CMD_SET_LOCALITY = 0x05;
    public static final int CMD_STOP = 0x0E;
    public static final int CMD_GET_INFO = 0x12;
    /** GET_INFO flags. */
    public static final long INFO_TPMSPECIFICATION = 1;
    public static final long INFO_TPMATTRIBUTES = 2;

    private final String host;
    private final int port;
    private final Path path;
    private final int timeoutMs;

    private SwtpmControl(String host, int port, Path path, int timeoutMs) {
        this.host = host;
        this.port = port;
        this.path = path;
        this.timeoutMs = timeoutMs;
    }

    public static SwtpmControl tcp(String host, int port) {
        return new SwtpmControl(host, port, null, 10_000);
    }

    public static SwtpmControl unix(Path path) {
        return new SwtpmControl(null, 0, path, 10_000);
    }

    private String where() {
        return path != null ? "swtpm control socket " + path : "swtpm control channel " + host + ":" + port;
    }

    /** Reads a response from the control connection. */
    private interface Reader {
        byte[] read(DataInputStream in) throws IOException;
    }

    /** One request per connection; the reader takes what the command answers. */
    private byte[] request(byte[] req, Reader reader) {
        try {
            if (path != null) {
                try (SocketChannel ch = SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                    ch.connect(java.net.UnixDomainSocketAddress.of(path));
                    ch.write(ByteBuffer.wrap(req));
                    return reader.read(new DataInputStream(Channels.newInputStream(ch)));
                }
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), timeoutMs);
                s.setSoTimeout(timeoutMs);
                OutputStream o = s.getOutputStream();
                o.write(req);
                o.flush();
                return reader.read(new DataInputStream(s.getInputStream()));
            }
        } catch (SocketTimeoutException e) {
            throw new TpmTransportException(where() + ": no answer within " + timeoutMs + " ms", e);
        } catch (IOException e) {
            throw new TpmTransportException(where() + ": " + e.getMessage(), e);
        }
    }

    private byte[] request(byte[] req, int len) {
        return request(req, in -> {
            byte[] b = new byte[len];
            in.readFully(b);
            return b;
        });
    }

    private static byte[] cmd(int code, int extraBytes) {
        return ByteBuffer.allocate(4 + extraBytes).putInt(code).array();
    }

    private void checkResult(byte[] resp, String what) {
        int rc = ByteBuffer.wrap(resp).getInt();
        if (rc != 0) throw new TpmCommandException("swtpm " + what, TpmRc.decode(rc));
    }

    /** CMD_INIT: TPM reset (PCRs cleared); a TPM2_Startup must follow unless swtpm sends one itself. */
    public void init() {
        ByteBuffer b = ByteBuffer.allocate(8).putInt(CMD_INIT).putInt(0);
        checkResult(request(b.array(), 4), "CMD_INIT");
    }

    /** CMD_SHUTDOWN: swtpm saves state and exits. */
    public void shutdown() {
        checkResult(request(cmd(CMD_SHUTDOWN, 0), 4), "CMD_SHUTDOWN");
    }

    /** CMD_STOP: stops the TPM (until the next CMD_INIT) without exiting. */
    public void stop() {
        checkResult(request(cmd(CMD_STOP, 0), 4), "CMD_STOP");
    }

    /** CMD_SET_LOCALITY. */
    public void setLocality(int locality) {
        ByteBuffer b = ByteBuffer.allocate(5).putInt(CMD_SET_LOCALITY).put((byte) locality);
        checkResult(request(b.array(), 4), "CMD_SET_LOCALITY");
    }

    /** CMD_GET_INFO: a JSON document, e.g. {"TPMSpecification":{…}}. */
    public String info(long flags) {
        ByteBuffer b = ByteBuffer.allocate(4 + 8 + 4 + 4).putInt(CMD_GET_INFO).putLong(flags).putInt(0).putInt(0);
        // response {u32 result, u32 totlength, u32 length, char buf[length]}
        byte[] r = request(b.array(), in -> {
            byte[] hdr = new byte[12];
            in.readFully(hdr);
            if (ByteBuffer.wrap(hdr).getInt() != 0) return hdr;
            int len = ByteBuffer.wrap(hdr, 8, 4).getInt();
            if (len < 0 || len > 1 << 16) throw new IOException("CMD_GET_INFO length " + len + " out of range");
            byte[] all = java.util.Arrays.copyOf(hdr, 12 + len);
            in.readFully(all, 12, len);
            return all;
        });
        checkResult(r, "CMD_GET_INFO");
        String s = new String(r, 12, r.length - 12, StandardCharsets.UTF_8);
        int nul = s.indexOf('\0');
        return nul >= 0 ? s.substring(0, nul) : s;
    }
}
