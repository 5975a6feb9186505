package org.kexecmeasured.kexec;

import org.kexecmeasured.util.BadInputException;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Writes a "newc" cpio archive (SVR4 without CRC, magic 070701), the format the Linux initramfs
 * unpacker reads (Documentation/driver-api/early-userspace/buffer-format.rst). Only what an initrd
 * sidecar needs: directories and regular files, owner root, fixed mtime and inode numbers counted
 * from 1, so the same files give the same bytes (the archive is part of what the next kernel gets).
 *
 * <p>Written here rather than with commons-compress: the format is a 110-byte ASCII header, the name
 * and the data, each padded to 4 bytes — about fifty lines, no runtime dependency, and full control of
 * the reproducibility fields. Tests read the archives back with GNU cpio and commons-compress.
 */
public final class NewcCpio {
    private static final int DIR_MODE = 0040000 | 0555;
    private static final int FILE_MODE = 0100000 | 0444;
    private static final long MAX_FILE = 0xffffffffL;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Set<String> dirs = new LinkedHashSet<>();
    private long ino = 1;
    private boolean finished;

    /** An archive of {@code files} (path → content, in map order) with every parent directory before its files. */
    public static byte[] of(Map<String, byte[]> files) {
        NewcCpio c = new NewcCpio();
        files.forEach(c::file);
        return c.finish();
    }

    /** Adds a regular file (mode 0444); its parent directories (mode 0555) are added once, first. */
    public NewcCpio file(String path, byte[] data) {
        String p = checkPath(path);
        if (data.length > MAX_FILE) throw new BadInputException("cpio member " + p + ": larger than 4 GiB");
        int slash = p.lastIndexOf('/');
        if (slash > 0) directory(p.substring(0, slash));
        entry(p, FILE_MODE, data);
        return this;
    }

    /** Adds a directory and its parents (mode 0555), each once. */
    public NewcCpio directory(String path) {
        String p = checkPath(path);
        int slash = p.lastIndexOf('/');
        if (slash > 0) directory(p.substring(0, slash));
        if (dirs.add(p)) entry(p, DIR_MODE, new byte[0]);
        return this;
    }

    /** The archive with its TRAILER!!! record, padded to a multiple of 4 bytes. */
    public byte[] finish() {
        if (!finished) {
            header("TRAILER!!!", 0, 0, 0, 1);
            finished = true;
        }
        return out.toByteArray();
    }

    private void entry(String name, int mode, byte[] data) {
        if (finished) throw new IllegalStateException("archive already finished");
        header(name, ino++, mode, data.length, (mode & 0170000) == 0040000 ? 2 : 1);
        out.writeBytes(data);
        pad();
    }

    private void header(String name, long inode, int mode, long size, int nlink) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110).append("070701");
        // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        for (long v : new long[]{inode, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, n.length + 1L, 0}) {
            h.append(String.format("%08x", v));
        }
        out.writeBytes(h.toString().getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(n);
        out.write(0);
        pad();
    }

    private void pad() {
        while (out.size() % 4 != 0) out.write(0);
    }

    private static String checkPath(String path) {
        if (path.isEmpty() || path.startsWith("/") || path.endsWith("/") || path.contains("//")
                || path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("cpio member path must be relative and clean: " + path);
        }
        for (String part : path.split("/")) {
            if (part.equals(".") || part.equals("..")) throw new IllegalArgumentException("cpio member path: " + path);
        }
        return path;
    }
}
