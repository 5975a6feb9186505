package org.kexecmeasured.boot;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.tpm.Tcti;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The two exclusive locks a TPM write holds, from the PCR read the plan starts from to the end of the
 * commit (and around a recovery): one per state directory ({@code STATE/.lock}: one run or recovery
 * at a time writes its journal) and one per TPM, machine-wide ({@value #DEFAULT_DIR}{@code /<tpm-id>.lock},
 * {@link #tpmId}): no two runs interleave their extends. They are taken in that order, always.
 *
 * <p>Locks are {@link FileChannel#lock} (POSIX record locks on Linux): the kernel drops them when the
 * process dies, also by SIGKILL, so a dead run never leaves a stale lock. A lock that is held is
 * waited for up to {@code wait} (polling), then refused with a message naming the lock file and the
 * holder's pid ({@link LockedException}, exit 2: nothing was changed). The lock files are never
 * deleted (deleting one would let two processes lock two different files of one name).
 */
public final class Locks {

    /** Machine-wide TPM locks live here; {@code KEXEC_MEASURED_LOCK_DIR} overrides it (e.g. unprivileged tests). */
    public static final String DEFAULT_DIR = "/run/lock/kexec-measured";
    public static final String ENV_DIR = "KEXEC_MEASURED_LOCK_DIR";
    /** The state directory's lock file. */
    public static final String STATE_LOCK = ".lock";

    private static final long POLL_MILLIS = 50;

    /**
     * Lock files this JVM holds. POSIX record locks belong to the process, and closing any channel of
     * a file drops them all, so a second thread of this JVM must never open the file while it is held.
     */
    private static final java.util.Set<Path> HELD_HERE = new java.util.HashSet<>();

    /** Another process (or thread) holds a lock this run needs; nothing was changed. */
    public static final class LockedException extends BadInputException {
        LockedException(String message) {
            super(message);
        }
    }

    /** A held lock; closing it releases it. */
    public static final class Held implements AutoCloseable {
        private final Path file;
        private final FileChannel ch;
        private final FileLock lock;
        private boolean closed;

        private Held(Path file, FileChannel ch, FileLock lock) {
            this.file = file;
            this.ch = ch;
            this.lock = lock;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            try {
                release();
            } finally {
                synchronized (HELD_HERE) {
                    HELD_HERE.remove(file);
                }
            }
        }

        private void release() {
            try {
                lock.release();
            } catch (IOException ignored) {
                // closing the channel below releases it as well
            }
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
        }
    }

    private Locks() {
    }

    /** The state directory's lock (the directory is created when missing). */
    public static Held stateDir(Path dir, Duration wait) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new BadInputException(dir + ": cannot create the state directory: " + e.getMessage());
        }
        return lock(dir.resolve(STATE_LOCK), "the state directory " + dir, wait);
    }

    /** The machine-wide lock of the TPM behind {@code tcti}. */
    public static Held tpm(String tcti, Duration wait) {
        String env = System.getenv(ENV_DIR);
        Path dir = Path.of(env != null && !env.isEmpty() ? env : DEFAULT_DIR);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new BadInputException(dir + ": cannot create the TPM lock directory (" + e.getMessage()
                    + "); set " + ENV_DIR + " to a writable directory");
        }
        return lock(dir.resolve(tpmId(tcti) + ".lock"), "the TPM " + tcti, wait);
    }

    /**
     * One name per TPM, whatever TCTI spelling reaches it, characters outside {@code [A-Za-z0-9._-]} replaced by {@code _}:
     * <ul>
     *   <li>a device by its real path (symbolic links resolved), then: {@code tpmN} for {@code /dev/tpmN} and
     *       {@code /dev/tpmrmN} (the resource manager in front of the same chip), also for any other node with
     *       the major:minor of one of them ({@code /sys/class/tpm*}{@code /NAME/dev}); {@code device-MAJ_MIN} for
     *       another character device; {@code device-PATH} when the path is not a character device (yet);</li>
     *   <li>a simulator over TCP ({@code swtpm:} and {@code mssim:} speak the same protocol on the same port) as
     *       {@code swtpm-ADDRESS-PORT}, the host resolved to its address and the port as a number;</li>
     *   <li>a simulator's UNIX socket as {@code swtpm-path-REALPATH}.</li>
     * </ul>
     */
    public static String tpmId(String tcti) {
        Tcti t = Tcti.parse(tcti);
        String id = switch (t.kind()) {
            case "device" -> deviceId(realPath(Path.of(t.options().get("path"))));
            default -> t.options().containsKey("path") ? "swtpm-path-" + realPath(Path.of(t.options().get("path")))
                    : "swtpm-" + address(t.options().get("host")) + "-" + port(t.options().get("port"));
        };
        return id.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    private static String deviceId(Path path) {
        String name = path.getFileName() == null ? "" : path.getFileName().toString();
        if (name.matches("tpmrm[0-9]+")) return "tpm" + name.substring(5);
        if (name.matches("tpm[0-9]+")) return name;
        String rdev = rdev(path);
        if (rdev == null) return "device-" + path;
        // another node of a TPM character device: the name the kernel gave it
        for (String cls : List.of("tpm", "tpmrm")) {
            Path sys = Path.of("/sys/class", cls);
            if (!Files.isDirectory(sys)) continue;
            try (var entries = Files.list(sys)) {
                for (Path e : entries.toList()) {
                    Path dev = e.resolve("dev");
                    if (Files.isRegularFile(dev) && new String(org.kexecmeasured.util.BoundedFiles.read(dev, org.kexecmeasured.util.BoundedFiles.TEXT), java.nio.charset.StandardCharsets.US_ASCII).strip().equals(rdev)) {
                        String n = e.getFileName().toString();
                        return n.startsWith("tpmrm") ? "tpm" + n.substring(5) : n;
                    }
                }
            } catch (IOException ignored) {
                // sysfs unreadable: the device number alone names it
            }
        }
        return "device-" + rdev;
    }

    /** {@code MAJ:MIN} of a character device (the format of sysfs's {@code dev}), null for anything else. */
    private static String rdev(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            if ((mode & 0170000) != 0020000) return null; // S_IFCHR
            long rdev = (Long) Files.getAttribute(path, "unix:rdev");
            // Linux's new_encode_dev: minor in bits 0-7 and 20-31, major in bits 8-19 (and 32+ on 64-bit dev_t)
            long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
            long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
            return major + ":" + minor;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null;
        }
    }

    private static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    private static String address(String host) {
        try {
            return java.net.InetAddress.getByName(host).getHostAddress();
        } catch (java.net.UnknownHostException e) {
            return host.toLowerCase(Locale.ROOT);
        }
    }

    private static String port(String port) {
        try {
            return Integer.toString(Integer.parseInt(port.strip()));
        } catch (NumberFormatException e) {
            return port;
        }
    }

    private static Held lock(Path lockFile, String what, Duration wait) {
        Path file = lockFile.toAbsolutePath().normalize();
        long deadline = System.nanoTime() + wait.toNanos();
        try {
            while (true) {
                Held h = tryLock(file, what);
                if (h != null) return h;
                if (System.nanoTime() - deadline >= 0) {
                    String holder = readPid(file);
                    throw new LockedException(what + " is in use by another kexec-measured run"
                            + (holder.isEmpty() ? "" : " (pid " + holder + ")") + " holding " + file
                            + (wait.isZero() ? "" : " for more than " + wait.toMillis() + " ms")
                            + "; nothing was changed (try again when it has finished" + (wait.isZero() ? ", or give --lock-wait)" : ")"));
                }
                Thread.sleep(POLL_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LockedException("interrupted while waiting for " + file);
        }
    }

    /** The lock, or null while someone else holds it (another process, or another thread of this JVM). */
    private static Held tryLock(Path file, String what) {
        synchronized (HELD_HERE) {
            if (HELD_HERE.contains(file)) return null;
            FileChannel ch;
            try {
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new BadInputException(file + ": cannot open the lock file of " + what + ": " + e.getMessage());
            }
            try {
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l == null) {
                    ch.close();
                    return null;
                }
                writePid(ch);
                HELD_HERE.add(file);
                return new Held(file, ch, l);
            } catch (IOException e) {
                closeQuietly(ch);
                throw new BadInputException(file + ": cannot lock " + what + ": " + e.getMessage());
            }
        }
    }

    /** The holder's pid, for the message of whoever waits (informational only). */
    private static void writePid(FileChannel ch) throws IOException {
        byte[] pid = (pid() + "\n").getBytes(StandardCharsets.US_ASCII);
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(pid), 0);
    }

    /**
     * This process's id: the target of {@code /proc/self}, as the kernel names it. {@code ProcessHandle.current()}
     * gives the same number but initializes the JDK's process handling first (its reaper thread pool, native
     * set-up: a few main-thread ms of a boot); it stays the answer where {@code /proc} is not mounted.
     */
    static String pid() {
        try {
            String self = Files.readSymbolicLink(Path.of("/proc/self")).toString();
            boolean digits = !self.isEmpty() && self.length() <= 10;
            for (int i = 0; i < self.length(); i++) {
                digits &= self.charAt(i) >= '0' && self.charAt(i) <= '9';
            }
            if (digits) {
                return self;
            }
        } catch (IOException | UnsupportedOperationException e) {
            // no /proc: the JDK's answer
        }
        return Long.toString(ProcessHandle.current().pid());
    }

    private static String readPid(Path file) {
        try {
            // a pid and a newline: the first bytes tell; a lock file someone filled with junk costs nothing
            String s;
            try (BoundedFiles.Input in = BoundedFiles.open(file, BoundedFiles.TEXT)) {
                s = new String(in.head(32), StandardCharsets.US_ASCII).strip();
            }
            return s.matches("[0-9]{1,10}") ? s : "";
        } catch (BadInputException e) {
            return "";
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing held
        }
    }
}
