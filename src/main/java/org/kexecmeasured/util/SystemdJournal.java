package org.kexecmeasured.util;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A client of systemd-journald's native protocol (systemd's {@code JOURNAL_NATIVE_PROTOCOL}): one
 * datagram per entry on the AF_UNIX socket {@code /run/systemd/journal/socket}, each field either
 * {@code KEY=value\n} or, for a value holding a newline, {@code KEY\n} + little-endian u64 length +
 * value + {@code \n}. Structured fields (KEY: upper-case letters, digits, underscores, not starting
 * with one) stay searchable in {@code journalctl}. JNA gives the datagram socket Java lacks; no new
 * dependency. Entries are small here (a boot's summary), so the memfd path for huge entries is not
 * needed: a value is cut at {@link #MAX_VALUE} bytes.
 */
public final class SystemdJournal {
    public static final Path DEFAULT_SOCKET = Path.of("/run/systemd/journal/socket");
    /** Largest value sent; longer ones are cut (the datagram must stay below the socket's buffer). */
    public static final int MAX_VALUE = 48 * 1024;
    private static final Pattern FIELD = Pattern.compile("[A-Z0-9][A-Z0-9_]{0,63}");

    /** syslog priorities, as journald's PRIORITY field takes them. */
    public static final int ERR = 3;
    public static final int WARNING = 4;
    public static final int INFO = 6;

    private final Path socket;

    public SystemdJournal(Path socket) {
        this.socket = socket;
    }

    /** The entry as the native protocol encodes it; field names are checked, values may be any bytes. */
    public static byte[] encode(Map<String, String> fields) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(256);
        for (Map.Entry<String, String> f : fields.entrySet()) {
            if (!FIELD.matcher(f.getKey()).matches()) {
                throw new IllegalArgumentException("not a journal field name: " + f.getKey());
            }
            byte[] k = f.getKey().getBytes(StandardCharsets.US_ASCII);
            byte[] v = f.getValue().getBytes(StandardCharsets.UTF_8);
            if (v.length > MAX_VALUE) v = java.util.Arrays.copyOf(v, MAX_VALUE);
            b.writeBytes(k);
            if (indexOf(v, (byte) '\n') < 0) {
                b.write('=');
                b.writeBytes(v);
            } else {
                b.write('\n');
                for (int i = 0; i < 8; i++) b.write((int) ((long) v.length >>> (8 * i)) & 0xff);
                b.writeBytes(v);
            }
            b.write('\n');
        }
        return b.toByteArray();
    }

    /** Sends one entry; throws {@link java.io.IOException}-like {@link JournalException} when journald is not there. */
    public void send(Map<String, String> fields) {
        byte[] msg = encode(fields);
        byte[] addr = sockaddrUn(socket);
        LibC c = LibC.INSTANCE;
        int fd;
        try {
            fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw new JournalException("socket(AF_UNIX, SOCK_DGRAM): errno " + e.getErrorCode());
        }
        try {
            c.sendto(fd, msg, new NativeLong(msg.length), MSG_NOSIGNAL, addr, addr.length);
        } catch (LastErrorException e) {
            throw new JournalException("sendto " + socket + ": errno " + e.getErrorCode()
                    + (e.getErrorCode() == 2 || e.getErrorCode() == 111 ? " (journald is not running)" : ""));
        } finally {
            c.close(fd);
        }
    }

    /** The journal could not take the entry (no journald, a socket error). */
    public static final class JournalException extends RuntimeException {
        JournalException(String m) {
            super(m);
        }
    }

    // struct sockaddr_un { sa_family_t sun_family (u16, host order: little-endian on x86_64); char sun_path[108]; }
    static byte[] sockaddrUn(Path p) {
        byte[] path = p.toString().getBytes(StandardCharsets.UTF_8);
        if (path.length >= 108) throw new JournalException("socket path longer than 107 bytes: " + p);
        byte[] a = new byte[2 + path.length + 1];
        a[0] = (byte) AF_UNIX;
        System.arraycopy(path, 0, a, 2, path.length);
        return a;
    }

    private static int indexOf(byte[] a, byte x) {
        for (int i = 0; i < a.length; i++) if (a[i] == x) return i;
        return -1;
    }

    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int MSG_NOSIGNAL = 0x4000;

    private interface LibC extends Library {
        LibC INSTANCE = Native.load("c", LibC.class);

        int socket(int domain, int type, int protocol) throws LastErrorException;

        NativeLong sendto(int fd, byte[] buf, NativeLong len, int flags, byte[] addr, int addrlen) throws LastErrorException;

        int close(int fd);
    }
}
