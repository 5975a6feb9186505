package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.util.BadInputException;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Files held in memory as a {@link FileTree}: each file is a view of bytes the run already has (the synthesized
 * ESP's {@code \EFI\Linux\<name>} is the payload's own buffer, a read-leased mapping or its private copy), so
 * nothing is written to a host file system and nothing is copied until the guest reads it. Directories are those
 * the files' paths name; every entry has the same modification time (the tree's creation, as a freshly written
 * copy would have).
 *
 * <p>A read puts a slice of the view into guest memory with {@link GuestMemory#place}: an engine that defers large
 * content (UnicornCpu) copies only the pages the guest then touches, and knows the bytes for
 * {@link GuestMemory#placedContent} (a LoadImage from a buffer the guest filled by reading the file gets the
 * payload's own bytes). Every copy out of the view is a Java read (never a native one), so a mapped payload
 * truncated under the run fails as an {@link InternalError} that {@code cli.Main} reports as bad input (exit 2) while
 * no PCR was changed, as for the image sections the loader places from the same buffer. A measurement does read the
 * view natively (OpenSSL hashing guest memory that still holds these bytes deferred, or an image LoadImage took from
 * it), after {@code boot.Hashing}'s check of the read lease right before each large native read; {@code
 * PayloadFile}'s lease check before every irreversible step covers the rest.
 *
 * <p>The views are only read, never written; whoever builds the tree must not change their bytes while it is served.
 */
public final class MemoryFileTree implements FileTree {

    private final Node root;

    /**
     * A tree of {@code files} (absolute UEFI paths such as {@code \EFI\Linux\debian.efi}, to the bytes from position 0
     * to the limit of each buffer), every entry modified at {@code modified}.
     *
     * @throws IllegalArgumentException for an empty path component, "." or "..", or two entries whose names differ
     *                                  only in case (FAT could not hold them)
     */
    public MemoryFileTree(Map<String, ByteBuffer> files, Instant modified) {
        root = new Node("", null, modified);
        for (Map.Entry<String, ByteBuffer> f : files.entrySet()) {
            String[] parts = f.getKey().replaceFirst("^\\\\", "").split("\\\\", -1);
            Node dir = root;
            for (int i = 0; i < parts.length; i++) {
                String part = parts[i];
                if (part.isEmpty() || part.equals(".") || part.equals("..") || part.indexOf('\0') >= 0) {
                    throw new IllegalArgumentException("no file name: " + f.getKey());
                }
                boolean last = i == parts.length - 1;
                Node existing = dir.child(part);
                if (existing != null && (last || !existing.isDirectory())) {
                    throw new IllegalArgumentException("two entries named " + part + " (ignoring case) in " + f.getKey());
                }
                if (existing == null) {
                    existing = new Node(part, last ? f.getValue().slice(0, f.getValue().limit()) : null, modified);
                    dir.children.add(existing);
                    dir.children.sort(Comparator.comparing(Node::name));
                }
                dir = existing;
            }
        }
    }

    @Override
    public Entry root() {
        return root;
    }

    /** A directory ({@code content} null) or a file. */
    private static final class Node implements Entry {
        private final String name;
        private final ByteBuffer content;
        private final Instant modified;
        private final List<Node> children = new ArrayList<>();

        Node(String name, ByteBuffer content, Instant modified) {
            this.name = name;
            this.content = content;
            this.modified = modified;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public boolean isDirectory() {
            return content == null;
        }

        @Override
        public boolean isOpenable() {
            return true;
        }

        @Override
        public Node child(String childName) {
            for (Node c : children) {
                if (c.name.equalsIgnoreCase(childName)) {
                    return c;
                }
            }
            return null;
        }

        @Override
        public List<Entry> list() {
            return List.copyOf(children);
        }

        @Override
        public Info info() {
            return new Info(isDirectory(), isDirectory() ? 0 : content.limit(), modified);
        }

        @Override
        public long read(long position, long n, GuestMemory m, long dst) {
            if (isDirectory() || position < 0 || n < 0 || n > content.limit() - position) {
                throw new IllegalArgumentException("read of " + n + " bytes at " + position + " of " + name);
            }
            if (n > 0) {
                m.place(dst, content.slice((int) position, (int) n));
            }
            return n;
        }

        @Override
        public byte[] readAll(String efiPath, long maxSize) {
            int size = content.limit();
            if (size > maxSize) {
                throw new BadInputException("ESP file " + efiPath + " has " + size + " bytes, more than the limit of "
                        + maxSize);
            }
            byte[] b = new byte[size];
            content.get(0, b);
            return b;
        }
    }
}
