package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.stream.Stream;

/**
 * A host directory as a {@link FileTree} (an ESP given with {@code --esp}, or the disk's ESP copied out of its FAT):
 * every component is looked up among the real entries of its directory, ignoring case (FAT semantics), and
 * symbolic links are never followed, so no lookup reaches outside the directory. Files are read when the guest
 * reads them, in bounded chunks.
 */
final class HostDirectoryTree implements FileTree {

    /** Host buffer for one step of a read. */
    private static final int READ_CHUNK = 1 << 20;

    private final Entry root;

    HostDirectoryTree(Path root) {
        Path r = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(r)) {
            throw new BadInputException("ESP directory " + root + " does not exist");
        }
        this.root = new HostEntry(r, "");
    }

    @Override
    public Entry root() {
        return root;
    }

    private record HostEntry(Path path, String name) implements Entry {

        @Override
        public boolean isDirectory() {
            return Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS);
        }

        @Override
        public boolean isOpenable() {
            return isDirectory() || Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS);
        }

        @Override
        public Entry child(String childName) {
            if (childName.contains("/") || childName.indexOf('\0') >= 0 || !isDirectory()) {
                return null;
            }
            Path exact = path.resolve(childName);
            if (exact.getParent().equals(path) && Files.exists(exact, LinkOption.NOFOLLOW_LINKS)
                    && !Files.isSymbolicLink(exact)) {
                return new HostEntry(exact, exact.getFileName().toString());
            }
            try (Stream<Path> s = Files.list(path)) {
                for (Path e : (Iterable<Path>) s::iterator) {
                    if (e.getFileName().toString().equalsIgnoreCase(childName) && !Files.isSymbolicLink(e)) {
                        return new HostEntry(e, e.getFileName().toString());
                    }
                }
            } catch (IOException e) {
                return null;
            }
            return null;
        }

        @Override
        public List<Entry> list() throws IOException {
            try (Stream<Path> s = Files.list(path)) {
                return s.filter(p -> !Files.isSymbolicLink(p)).sorted()
                        .map(p -> (Entry) new HostEntry(p, p.getFileName().toString())).toList();
            }
        }

        @Override
        public Info info() throws IOException {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return new Info(a.isDirectory(), a.isDirectory() ? 0 : a.size(), a.lastModifiedTime().toInstant());
        }

        @Override
        public long read(long position, long n, GuestMemory m, long dst) throws IOException {
            // positional reads in bounded chunks straight into guest memory: no per-file host copy
            long done = 0;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(n, READ_CHUNK));
                while (done < n) {
                    chunk.clear().limit((int) Math.min(chunk.capacity(), n - done));
                    int r = ch.read(chunk, position + done);
                    if (r <= 0) {
                        break;
                    }
                    m.write(dst + done, chunk.array(), 0, r);
                    done += r;
                }
            }
            return done;
        }

        @Override
        public byte[] readAll(String efiPath, long maxSize) throws IOException {
            // the size is checked before anything is read: a huge file on the ESP must not fill the host heap
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                long size = ch.size();
                if (size > maxSize) {
                    throw new BadInputException("ESP file " + efiPath + " has " + size
                            + " bytes, more than the limit of " + maxSize);
                }
                ByteBuffer b = ByteBuffer.allocate((int) size);
                while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
                    // positional reads until the size read above (a file that shrinks ends early)
                }
                return b.position() == size ? b.array() : java.util.Arrays.copyOf(b.array(), b.position());
            }
        }
    }
}
