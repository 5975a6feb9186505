package org.kexecmeasured.util;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;

import java.nio.file.Path;

/**
 * A Linux read lease on a file (fcntl(2) F_SETLEASE with F_RDLCK, fs/locks.c): the kernel grants it only while
 * nobody has the file open for writing (a shared writable mapping keeps its file open for writing too: EAGAIN),
 * and any later open for writing or truncate(2) breaks it. A broken lease stays visible: F_GETLEASE then returns
 * F_UNLCK (the target of the break) instead of F_RDLCK, until this descriptor is closed; the breaker waits for
 * that close or for {@code /proc/sys/fs/lease-break-time} (45 s by default). So "the lease is still held" after a
 * run of reads means: nobody could have written the file during those reads.
 *
 * <p>The kernel signals a break with SIGIO to the descriptor's owner, whose default action ends the process (the JVM
 * does not handle SIGIO): the break's signal is set to SIGWINCH (ignored) before the lease is taken, the owner is
 * cleared right after (F_SETOWN 0, so send_sigio finds no one), and the break is only ever observed through
 * {@link #held}.
 *
 * <p>Only on local file systems ({@link #leaseCoversEveryWriter}): on overlayfs the lease is on the overlay inode while a
 * mapping shows the layer file's pages, which a write through the layer's own path changes with the lease still
 * F_RDLCK; FUSE, virtiofs and network file systems change pages without any open here.
 *
 * <p>Taking a lease needs the file's owner or CAP_LEASE and a file system that supports leases; the caller falls back
 * to a private copy when {@link #take} throws {@link Unavailable}.
 */
public final class ReadLease implements AutoCloseable {

    // include/uapi/asm-generic/fcntl.h and linux/fcntl.h (x86_64 and arm64 alike)
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;
    private static final int F_SETOWN = 8;
    private static final int F_SETSIG = 10;
    /** SIGWINCH (x86_64 and arm64): its default action is to ignore it, and the JVM does not handle it. */
    private static final int SIGWINCH = 28;
    private static final int F_SETLEASE = 1024;
    private static final int F_GETLEASE = 1025;
    private static final int F_RDLCK = 0;
    private static final int EAGAIN = 11;
    private static final int EACCES = 13;
    private static final int EINVAL = 22;

    private interface LibC extends Library {
        int open(String path, int flags) throws LastErrorException;

        int fcntl(int fd, int cmd, long arg) throws LastErrorException;

        int close(int fd) throws LastErrorException;

        int fstatfs(int fd, byte[] statfs) throws LastErrorException;

        int getpid();
    }

    private static final class Holder {
        static final LibC LIBC = Native.load("c", LibC.class);
    }

    /** Why no lease was granted: the caller's fallback says it in its stats. */
    public static final class Unavailable extends Exception {
        Unavailable(String reason) {
            super(reason, null, false, false);
        }
    }

    private final Path file;
    private int fd;

    private ReadLease(Path file, int fd) {
        this.file = file;
        this.fd = fd;
    }

    /** Opens {@code file} read-only and takes a read lease on that open file. */
    public static ReadLease take(Path file) throws Unavailable {
        LibC c;
        try {
            c = Holder.LIBC;
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            throw new Unavailable("libc not loadable: " + e.getMessage());
        }
        int fd;
        try {
            fd = c.open(file.toString(), O_RDONLY | O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new Unavailable("open failed (errno " + e.getErrorCode() + ")");
        }
        try {
            long fsType = fileSystemType(c, fd);
            if (!leaseCoversEveryWriter(fsType)) {
                closeQuietly(c, fd);
                throw new Unavailable("a read lease on this file system (statfs f_type 0x" + Long.toHexString(fsType)
                        + ") does not see every writer (overlay, FUSE, network file systems change bytes without an open here)");
            }
            // F_SETLEASE makes this process the owner (fs/locks.c lease_setup): a break before the F_SETOWN 0 below
            // signals it, and SIGIO's default action ends the JVM (exit 157, shown with python's fcntl); the break's
            // signal is made SIGWINCH first, which is ignored
            c.fcntl(fd, F_SETSIG, SIGWINCH);
            c.fcntl(fd, F_SETLEASE, F_RDLCK);
            c.fcntl(fd, F_SETOWN, 0);
            return new ReadLease(file, fd);
        } catch (LastErrorException e) {
            closeQuietly(c, fd);
            throw new Unavailable(switch (e.getErrorCode()) {
                case EAGAIN -> "the file is open for writing (no read lease: EAGAIN)";
                case EACCES -> "not the file's owner and no CAP_LEASE (EACCES)";
                case EINVAL -> "the file system does not support leases (EINVAL)";
                default -> "no read lease (errno " + e.getErrorCode() + ")";
            });
        }
    }

    /**
     * The file systems whose pages a mapping of the leased file shows can only change through an open (or truncate)
     * of that very inode, which breaks the lease ({@code linux/magic.h}). Not on this list, so copied instead:
     * overlayfs (the lease is on the overlay inode, the mapping shows the lower or upper file's pages, which a
     * writer of the layer's own path changes without breaking it), FUSE and virtiofs (the server answers page
     * faults), NFS, SMB, 9p and Ceph (other clients write), and anything unknown.
     */
    static boolean leaseCoversEveryWriter(long fsType) {
        return switch ((int) fsType) {
            case 0xEF53, // ext2, ext3, ext4
                 0x58465342, // xfs
                 0x9123683E, // btrfs
                 0xF2F52010, // f2fs
                 0x01021994, // tmpfs
                 0x858458F6, // ramfs
                 0x4D44, // vfat (msdos)
                 0x2011BAB0, // exfat
                 0x73717368, // squashfs (read-only)
                 0xE0F5E1E2, // erofs (read-only)
                 0x9660 // iso9660 (read-only)
                    -> (fsType >>> 32) == 0;
            default -> false;
        };
    }

    /** statfs(2) f_type of the open file: the first field of struct statfs (a long on x86_64 and arm64). */
    private static long fileSystemType(LibC c, int fd) throws Unavailable {
        byte[] st = new byte[256]; // struct statfs is 120 bytes on x86_64 and arm64
        try {
            c.fstatfs(fd, st);
        } catch (LastErrorException e) {
            closeQuietly(c, fd);
            throw new Unavailable("fstatfs failed (errno " + e.getErrorCode() + ")");
        }
        return Le.u64(st, 0);
    }

    /** For a test: makes this process the owner again, as it is between F_SETLEASE and F_SETOWN 0 in {@link #take}. */
    synchronized void ownBreakSignalForTest() {
        Holder.LIBC.fcntl(fd, F_SETOWN, Holder.LIBC.getpid());
    }

    /** The leased file descriptor (read-only); {@code /proc/self/fd/<fd>} opens the same file again. */
    public int fd() {
        return fd;
    }

    /** The file the lease was taken on, as named. */
    public Path file() {
        return file;
    }

    /** Whether the lease is still F_RDLCK: no open for writing and no truncate since {@link #take}. */
    public synchronized boolean held() {
        if (fd < 0) return false;
        try {
            return Holder.LIBC.fcntl(fd, F_GETLEASE, 0) == F_RDLCK;
        } catch (LastErrorException e) {
            return false;
        }
    }

    /** Releases the lease (closing the descriptor ends it; a waiting writer goes on). */
    @Override
    public synchronized void close() {
        if (fd < 0) return;
        closeQuietly(Holder.LIBC, fd);
        fd = -1;
    }

    private static void closeQuietly(LibC c, int fd) {
        try {
            c.close(fd);
        } catch (LastErrorException e) {
            // nothing left to release
        }
    }
}
