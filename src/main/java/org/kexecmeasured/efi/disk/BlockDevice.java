package org.kexecmeasured.efi.disk;

import org.kexecmeasured.util.BoundedFiles;

import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A disk opened read-only: a disk-image file or a real block device. Nothing here ever writes. Sizes come
 * from the file, or for a block device from sysfs ({@code /sys/class/block/NAME/size}, 512-byte units), as
 * a block device's channel reports size 0.
 */
public final class BlockDevice implements AutoCloseable {

    /** Logical block size: 512 bytes, what disk images and virtio/SATA disks present. */
    public static final int BLOCK_SIZE = 512;

    private final Path path;
    private final FileChannel ch;
    private final long size;

    private BlockDevice(Path path, FileChannel ch, long size) {
        this.path = path;
        this.ch = ch;
        this.size = size;
    }

    /** Opens {@code path} read-only; a missing or unreadable file is bad input. */
    public static BlockDevice open(Path path) {
        if (!Files.exists(path)) {
            throw new BadInputException("disk " + path + " does not exist");
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new BadInputException("disk " + path + " cannot be opened read-only: " + e.getMessage());
        }
        try {
            long size = ch.size();
            if (size == 0 && !Files.isRegularFile(path)) {
                size = sysfsSize(path);
            }
            return new BlockDevice(path, ch, size);
        } catch (IOException | RuntimeException e) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // already failing
            }
            if (e instanceof BadInputException b) {
                throw b;
            }
            throw new BadInputException("disk " + path + ": cannot tell its size: " + e.getMessage());
        }
    }

    private static long sysfsSize(Path dev) throws IOException {
        Path real = dev.toRealPath();
        Path f = Path.of("/sys/class/block", real.getFileName().toString(), "size");
        if (!Files.isRegularFile(f)) {
            throw new BadInputException("disk " + dev + " is neither a regular file nor a block device");
        }
        try {
            return Math.multiplyExact(Long.parseLong(new String(BoundedFiles.read(f, BoundedFiles.TEXT), java.nio.charset.StandardCharsets.US_ASCII).trim()), 512L);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new BadInputException("disk " + dev + ": unreadable size in " + f);
        }
    }

    public Path path() {
        return path;
    }

    /** Size in bytes. */
    public long size() {
        return size;
    }

    /** Number of whole logical blocks. */
    public long blocks() {
        return size / BLOCK_SIZE;
    }

    /**
     * Reads {@code len} bytes at {@code offset}; the range must lie inside the disk (a short read of a file
     * that shrank is an error, never silent zeros).
     */
    public byte[] read(long offset, int len) {
        if (len < 0 || offset < 0 || offset > size || len > size - offset) {
            throw new BadInputException("disk " + path + ": read of " + len + " bytes at offset " + offset
                    + " is outside its " + size + " bytes");
        }
        ByteBuffer b = ByteBuffer.allocate(len);
        readFully(offset, b);
        return b.array();
    }

    /** Fills {@code dst} from {@code offset} (positional, no shared file position: safe to interleave). */
    public void readFully(long offset, ByteBuffer dst) {
        try {
            while (dst.hasRemaining()) {
                int r = ch.read(dst, offset);
                if (r <= 0) {
                    throw new BadInputException("disk " + path + ": unexpected end at offset " + offset);
                }
                offset += r;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("disk " + path + ": read at offset " + offset, e);
        }
    }

    @Override
    public void close() {
        try {
            ch.close();
        } catch (IOException e) {
            // read-only: nothing to lose
        }
    }
}
