package org.kexecmeasured.util;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file so that a reader sees either the old content or the new, never a torn one, and
 * the new content is on disk (file and directory entry synced) when the call returns. Errors name
 * the file that could not be written (a full disk blames the right file).
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    public static void write(Path file, byte[] data) throws IOException {
        syncDirectory(writeDirectoryUnsynced(file, data));
    }

    /**
     * Several files, each replaced atomically as by {@link #write}, in the map's order; every directory
     * that got one is fsync'ed once at the end (also when a later file fails: what was renamed is made
     * durable), instead of once per file. When this returns, all of them are on disk.
     */
    public static void writeAll(java.util.Map<Path, byte[]> files) throws IOException {
        java.util.Set<Path> dirs = new java.util.LinkedHashSet<>();
        try {
            for (java.util.Map.Entry<Path, byte[]> f : files.entrySet()) {
                dirs.add(writeDirectoryUnsynced(f.getKey(), f.getValue()));
            }
        } finally {
            for (Path d : dirs) syncDirectory(d);
        }
    }

    /**
     * {@link #write} but for its directory's fsync: the content is on disk before the rename (a reader, and
     * a crash, see the old content or the new, never a torn one), but the rename itself is durable only
     * once the caller fsyncs the returned directory ({@link #syncDirectory}), e.g. once after several files.
     */
    public static Path writeDirectoryUnsynced(Path file, byte[] data) throws IOException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + abs.getFileName(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.wrap(data);
                while (b.hasRemaining()) ch.write(b);
                ch.force(true);
            } catch (IOException e) {
                throw new IOException(abs + ": cannot write: " + e.getMessage(), e);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException(abs + ": the file system cannot replace it atomically: " + e.getMessage(), e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return dir;
    }

    /** fsync of a directory, so a rename or a new file in it survives a crash. Best effort where unsupported. */
    public static void syncDirectory(Path dir) {
        if (dir == null) return;
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // some file systems refuse fsync on directories; the data itself was forced already
        }
    }
}
