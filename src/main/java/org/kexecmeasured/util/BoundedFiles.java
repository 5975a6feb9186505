package org.kexecmeasured.util;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * The one capped reader for every file and standard input the tool reads whole: it refuses
 * before it allocates. A regular file is refused by its size ({@code stat}); a device, a pipe,
 * standard input or a file whose size {@code stat} does not tell (securityfs, procfs) is read
 * up to the limit plus one byte and refused when that byte arrives. A regular file can also be
 * memory-mapped ({@link Input#map}), so a large payload needs no heap at all.
 *
 * <p>Every limit has a name and an environment variable that adjusts it, one scheme for all:
 * {@code KEXEC_MEASURED_MAX_<NAME>=SIZE} with SIZE in bytes or with a binary suffix ({@code 512K},
 * {@code 64M}, {@code 1G}; {@code MiB} and {@code KiB} spellings too), at most {@link Limit#CEILING}
 * (what one Java array or one mapping can hold). Errors name the file, the limit and the variable.
 */
public final class BoundedFiles {

    /** Read requests for a file or stream of unknown size grow the buffer from this size. */
    private static final int FIRST_CHUNK = 64 << 10;
    /**
     * Bytes per read of a regular file into the heap. A channel read into a heap buffer goes through a
     * temporary direct buffer as large as the request: one read of a 60 MiB payload cost ~60 MB of zeroing,
     * 15k page faults and one more copy before anything else ran. Pieces keep that buffer small and reused.
     */
    static final int PIECE = 1 << 20;

    private BoundedFiles() {
    }

    /**
     * A named size limit: {@code what} for messages ("event-log"), the environment variable that
     * sets it, and its default.
     */
    public record Limit(String what, String env, long defaultBytes) {
        /** One Java array or one MappedByteBuffer (int-indexed), less the JVM's array header slack. */
        public static final long CEILING = Integer.MAX_VALUE - 64;

        public Limit {
            if (defaultBytes <= 0 || defaultBytes > CEILING) throw new IllegalArgumentException("limit " + defaultBytes);
            if (!env.startsWith("KEXEC_MEASURED_MAX_")) throw new IllegalArgumentException("limit variables are KEXEC_MEASURED_MAX_*: " + env);
        }

        /** The limit in force: the environment variable when set, else the default. */
        public long bytes() {
            return bytes(System.getenv());
        }

        /** The limit given this environment (tests pass their own). */
        public long bytes(Map<String, String> environment) {
            String v = environment.get(env);
            if (v == null || v.isBlank()) return defaultBytes;
            long n = parseSize(v, env);
            if (n <= 0 || n > CEILING) {
                throw new BadInputException(env + "=" + v.strip() + ": must be between 1 byte and 2047M");
            }
            return n;
        }

        /** "the 32 MiB event-log limit (KEXEC_MEASURED_MAX_EVENTLOG=SIZE raises it)". */
        String describe(long limit) {
            return "the " + formatSize(limit) + " " + what + " limit (" + env + "=SIZE raises it, up to 2047M)";
        }
    }

    /** Payload files: inspect, emulate and boot payloads, initrds. UKIs with large initrds stay far below. */
    public static final Limit PAYLOAD = new Limit("payload", "KEXEC_MEASURED_MAX_PAYLOAD", 1L << 30);
    /**
     * Binary TCG event logs. Firmware logs are below 1 MiB (the ACPI TPM2 table's log area); the
     * default leaves room for long synthetic logs and keeps every eventlog command inside a 256 MiB heap.
     */
    public static final Limit EVENTLOG = new Limit("event-log", "KEXEC_MEASURED_MAX_EVENTLOG", 32L << 20);
    /** Certificate files (--trust): a PEM bundle of a few hundred certificates. */
    public static final Limit CERTIFICATE = new Limit("certificate", "KEXEC_MEASURED_MAX_CERTIFICATE", 4L << 20);
    /** Small text inputs: PCR value files (YAML/JSON), policies, pending boots, keys, sysfs and procfs files. */
    public static final Limit TEXT = new Limit("text-file", "KEXEC_MEASURED_MAX_TEXT", 16L << 20);
    /**
     * Boot journals ({@code journal.jsonl}): one line per planned record with its event data, so a
     * long GRUB chain stays far below; the state directory's space check uses the same bound.
     */
    public static final Limit JOURNAL = new Limit("journal", "KEXEC_MEASURED_MAX_JOURNAL", 64L << 20);
    /**
     * The running OS's own measurement logs read by {@code boot} (IMA's binary runtime log, systemd's
     * tpm2-measure.log): IMA's grows with every measured file, so its bound is larger than a firmware log's.
     */
    public static final Limit RUNTIME_LOG = new Limit("runtime-log", "KEXEC_MEASURED_MAX_RUNTIME_LOG", 64L << 20);

    /** The limits and their defaults, for --help footers and the README (one place says it). */
    public static final String HELP_LIMITS = "Size limits (refused with exit code 2 before reading): "
            + "KEXEC_MEASURED_MAX_PAYLOAD (default 1G), KEXEC_MEASURED_MAX_EVENTLOG (default 32M), "
            + "KEXEC_MEASURED_MAX_CERTIFICATE (default 4M), KEXEC_MEASURED_MAX_TEXT (default 16M), "
            + "KEXEC_MEASURED_MAX_JOURNAL (default 64M), KEXEC_MEASURED_MAX_RUNTIME_LOG (default 64M); "
            + "SIZE in bytes or with K, M, G; at most 2047M. Heap: KEXEC_MEASURED_JAVA_OPTS=-Xmx…";

    /** Reads the whole file ("-" = standard input) or refuses it with a BadInputException. */
    public static byte[] read(Path file, Limit limit) {
        try (Input in = open(file, limit)) {
            return in.readAll();
        }
    }

    /**
     * Opens a file ("-" = standard input) for a capped read. Nothing but {@code stat} happens
     * here; a regular file over the limit is refused at once.
     */
    public static Input open(Path file, Limit limit) {
        long max = limit.bytes();
        String name = file.toString();
        if (name.equals("-")) return new Input(name, "standard input", -1, null, System.in, limit, max);
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new BadInputException(name + ": no such file");
        } catch (AccessDeniedException e) {
            throw new BadInputException(name + ": permission denied");
        } catch (IOException e) {
            throw new BadInputException(name + ": cannot read: " + e.getMessage());
        }
        if (a.isDirectory()) throw new BadInputException(name + ": is a directory, not a file");
        String kind = a.isRegularFile() ? "regular file" : fileKind(file);
        long size = a.isRegularFile() ? a.size() : -1;
        if (size > max) {
            throw new BadInputException(name + ": " + formatSize(size) + " (" + size + " bytes) is over " + limit.describe(max));
        }
        try {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
            // securityfs and procfs files are regular files whose stat size is 0: read them as streams
            return new Input(name, kind, size > 0 ? size : -1, size > 0 ? ch : null,
                    size > 0 ? null : Channels.newInputStream(ch), limit, max);
        } catch (AccessDeniedException e) {
            throw new BadInputException(name + ": permission denied");
        } catch (IOException e) {
            throw new BadInputException(name + ": cannot read: " + e.getMessage());
        }
    }

    /**
     * An opened input: the first bytes can be looked at ({@link #head}) before the rest is read
     * ({@link #readAll}) or mapped ({@link #map}). Not thread-safe; close it (try-with-resources).
     */
    public static final class Input implements AutoCloseable {
        private final String name;
        private final String kind;
        private final long size;
        private final FileChannel channel;
        private final InputStream stream;
        private final Limit limit;
        private final long max;
        /** Bytes already taken from the stream (head), the start of what readAll returns. */
        private byte[] taken = new byte[0];
        private boolean eof;

        private Input(String name, String kind, long size, FileChannel channel, InputStream stream, Limit limit, long max) {
            this.name = name;
            this.kind = kind;
            this.size = size;
            this.channel = channel;
            this.stream = stream;
            this.limit = limit;
            this.max = max;
        }

        /** "regular file", "character device", "FIFO", "socket", "block device", "standard input". */
        public String kind() {
            return kind;
        }

        /** A regular file (its size may still be unknown: securityfs and procfs report 0). */
        public boolean isRegularFile() {
            return kind.equals("regular file");
        }

        /** True for a regular file whose size stat reports (only those can be mapped). */
        public boolean hasKnownSize() {
            return channel != null;
        }

        public String name() {
            return name;
        }

        /** The stat size of a regular file, -1 for anything else. */
        public long size() {
            return channel != null ? size : -1;
        }

        /** The first {@code n} bytes (fewer when the input is shorter); reads no more than that. */
        public byte[] head(int n) {
            try {
                if (channel != null) {
                    ByteBuffer b = ByteBuffer.allocate((int) Math.min(n, size));
                    while (b.hasRemaining() && channel.read(b, b.position()) >= 0) {
                        // positional reads leave the channel where it was
                    }
                    return Arrays.copyOf(b.array(), b.position());
                }
                if (taken.length < n && !eof) {
                    byte[] more = stream.readNBytes(n - taken.length);
                    if (more.length < n - taken.length) eof = true;
                    byte[] t = Arrays.copyOf(taken, taken.length + more.length);
                    System.arraycopy(more, 0, t, taken.length, more.length);
                    taken = t;
                }
                return Arrays.copyOf(taken, Math.min(n, taken.length));
            } catch (IOException e) {
                throw new BadInputException(name + ": cannot read: " + e.getMessage());
            }
        }

        /** Everything, at most the limit; the bytes {@link #head} returned are included. */
        public byte[] readAll() {
            try {
                if (channel != null) return readRegular();
                return readStream();
            } catch (IOException e) {
                throw new BadInputException(name + ": cannot read: " + e.getMessage());
            }
        }

        /**
         * A read-only, little-endian view of everything: a regular file is mapped (no heap; a file
         * truncated by someone else while mapped makes the JVM raise an InternalError), anything
         * else is read with {@link #readAll}.
         */
        public ByteBuffer map() {
            if (channel == null) return ByteBuffer.wrap(readAll()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            try {
                return channel.map(FileChannel.MapMode.READ_ONLY, 0, size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            } catch (IOException e) {
                throw new BadInputException(name + ": cannot map: " + e.getMessage());
            }
        }

        /** Exactly the stat size, then one probe: a file that grew meanwhile goes on as a stream, capped. */
        private byte[] readRegular() throws IOException {
            byte[] b = new byte[(int) size];
            ByteBuffer buf = ByteBuffer.wrap(b);
            long pos = 0;
            while (buf.position() < b.length) {
                buf.limit(Math.min(b.length, buf.position() + PIECE));
                int n = channel.read(buf, pos);
                if (n < 0) return Arrays.copyOf(b, buf.position()); // shrank while being read
                pos += n;
            }
            ByteBuffer probe = ByteBuffer.allocate(1);
            if (channel.read(probe, pos) <= 0) return b;
            taken = Arrays.copyOf(b, b.length + 1);
            taken[b.length] = probe.get(0);
            return grow(Channels.newInputStream(channel.position(pos + 1)));
        }

        private byte[] readStream() throws IOException {
            if (eof) return taken.clone();
            return grow(stream);
        }

        /** Reads {@code in} after the bytes already taken, doubling the buffer, refusing past the limit. */
        private byte[] grow(InputStream in) throws IOException {
            int len = taken.length;
            if (len > max) throw overLimit();
            byte[] b = Arrays.copyOf(taken, (int) Math.min(Math.max(FIRST_CHUNK, len * 2L), max + 1));
            taken = new byte[0];
            while (true) {
                if (len == b.length) {
                    if (len > max) throw overLimit();
                    b = Arrays.copyOf(b, (int) Math.min(b.length * 2L, max + 1));
                }
                int n = in.read(b, len, b.length - len);
                if (n < 0) break;
                len += n;
            }
            if (len > max) throw overLimit();
            eof = true;
            return len == b.length ? b : Arrays.copyOf(b, len);
        }

        private BadInputException overLimit() {
            String from = kind.equals("standard input") ? kind : "a " + kind;
            return new BadInputException(name + ": more than " + formatSize(max) + " from " + from + ", over "
                    + limit.describe(max));
        }

        @Override
        public void close() {
            try {
                if (channel != null) channel.close();
                if (stream != null && stream != System.in) stream.close();
            } catch (IOException ignored) {
                // read-only: nothing was lost
            }
        }
    }

    /** What a non-regular, non-directory path is, from its st_mode (Linux "unix" attribute view). */
    static String fileKind(Path p) {
        try {
            int mode = (Integer) Files.getAttribute(p, "unix:mode");
            return switch (mode & 0170000) {
                case 0020000 -> "character device";
                case 0060000 -> "block device";
                case 0010000 -> "FIFO";
                case 0140000 -> "socket";
                default -> "special file";
            };
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            return "special file";
        }
    }

    /** "64M", "2G", "512KiB", "1048576" → bytes (binary multiples). */
    public static long parseSize(String text, String what) {
        String t = text.strip().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) t = t.substring(0, t.length() - 2);
        else if (t.endsWith("B")) t = t.substring(0, t.length() - 1);
        int shift = 0;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                default -> { }
            }
        }
        if (shift > 0) t = t.substring(0, t.length() - 1).strip();
        try {
            long n = Long.parseLong(t);
            if (n < 0 || n > (Long.MAX_VALUE >> shift)) throw new NumberFormatException();
            return n << shift;
        } catch (NumberFormatException e) {
            throw new BadInputException(what + "=" + text.strip() + ": not a size (bytes, or with K, M, G: 512K, 64M, 1G)");
        }
    }

    /** 1536 → "1.5 KiB", 33554432 → "32 MiB". */
    public static String formatSize(long n) {
        if (n < 1024) return n + " bytes";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return (v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v)) + " " + units[u];
    }
}
