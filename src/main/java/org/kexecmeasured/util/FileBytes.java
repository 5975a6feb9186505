package org.kexecmeasured.util;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads whole files into one array without the JDK's hidden copy: {@code Files.readAllBytes} reads through a
 * temporary direct buffer as large as the file (zeroed, page-faulted and copied once more: a 60 MiB UKI cost
 * ~60 MB of zeroing and 15k page faults before anything else ran). Here the channel reads into the array in
 * pieces, through the JDK's small cached buffer.
 */
public final class FileBytes {

    /** Bytes per read: the JDK's temporary direct buffer stays this small and is reused. */
    static final int PIECE = 1 << 20;

    private FileBytes() {
    }

    /**
     * The whole of {@code file}, at most {@code limit} bytes (a larger file is bad input, read not at all).
     *
     * @param what how the error names the file ("payload", …)
     */
    public static byte[] read(Path file, long limit, String what) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > limit || size > Integer.MAX_VALUE - 8) {
                throw new BadInputException(file + ": " + what + " larger than " + limit + " bytes (" + size + ")");
            }
            byte[] b = new byte[(int) size];
            ByteBuffer bb = ByteBuffer.wrap(b);
            while (bb.hasRemaining()) {
                bb.limit(Math.min(b.length, bb.position() + PIECE));
                if (ch.read(bb) < 0) {
                    throw new IOException(file + ": " + what + " shrank while it was read (" + bb.position() + " of "
                            + size + " bytes)");
                }
            }
            if (ch.read(ByteBuffer.allocate(1), size) > 0) {
                throw new IOException(file + ": " + what + " grew while it was read (more than " + size + " bytes)");
            }
            return b;
        }
    }
}
