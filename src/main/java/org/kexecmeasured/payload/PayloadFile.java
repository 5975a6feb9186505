package org.kexecmeasured.payload;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.BoundedFiles;
import org.kexecmeasured.util.ByteViews;
import org.kexecmeasured.util.ReadLease;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The payload's bytes, as every step after the read sees them: a read-only, little-endian {@link ByteBuffer}
 * (position 0). Where it can, the file is mapped (page-cache pages: no fresh heap for a 60 MiB UKI) under a Linux
 * read lease ({@link ReadLease}); where no lease is granted (someone has the file open for writing, not its owner
 * and no CAP_LEASE, a file system without leases, or one where a lease does not see every writer: overlayfs, FUSE,
 * network file systems, see {@link ReadLease}) it is read into a private heap copy, as before.
 *
 * <p>Security: the bytes checked (Authenticode, policy, digests) must be the bytes emulated, measured and handed
 * over. A private copy cannot change. A mapping could, if someone wrote the file: the lease makes any open for
 * writing or truncate visible, so {@link #checkUnchanged} is called before every irreversible step (the kexec load,
 * the commit's first TPM write) and after the last read of the mapping, and refuses (exit 2, nothing changed) when
 * the lease was broken. A Java read that comes after the break and the writer's truncate (a run longer than the
 * lease's 45 s) ends as an {@link InternalError} instead ({@link #isTruncatedMappingFault}), which {@code cli.Main}
 * also turns into exit 2 when no PCR was extended.
 */
public final class PayloadFile implements AutoCloseable {

    /** How the bytes are held, for the stats ({@code --json}). */
    public enum Source {
        /** The file mapped under a read lease. */
        MAPPED("mapped"),
        /** A private heap copy of the file (no lease granted). */
        COPY("copy"),
        /** Bytes given in memory (tests, a restored plan): nothing to lease. */
        MEMORY("memory");

        public final String id;

        Source(String id) {
            this.id = id;
        }
    }

    private final String name;
    private final ByteBuffer data;
    private final Source source;
    private final String fallbackReason;
    private final ReadLease lease;

    private PayloadFile(String name, ByteBuffer data, Source source, String fallbackReason, ReadLease lease) {
        this.name = name;
        this.data = data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        this.source = source;
        this.fallbackReason = fallbackReason;
        this.lease = lease;
    }

    /**
     * Opens {@code file} (a regular file, at most {@link BoundedFiles#PAYLOAD}): mapped under a read lease, else a
     * private copy. Missing files, directories and files over the limit are refused as {@link BoundedFiles} refuses
     * them (exit 2).
     */
    public static PayloadFile open(Path file) {
        String name = file.toString();
        long limit = BoundedFiles.PAYLOAD.bytes();
        try (BoundedFiles.Input in = BoundedFiles.open(file, BoundedFiles.PAYLOAD)) {
            if (!in.isRegularFile()) {
                // a FIFO or standard input can be read once only: from this very input
                byte[] b = in.readAll();
                return new PayloadFile(name, ByteBuffer.wrap(b), Source.COPY, "not a regular file", null);
            }
        }
        ReadLease lease;
        try {
            lease = ReadLease.take(file);
        } catch (ReadLease.Unavailable e) {
            return copy(file, e.getMessage());
        }
        try {
            PayloadFile p = mapped(name, lease, limit);
            if (p != null) return p;
        } catch (RuntimeException e) {
            lease.close();
            throw e;
        }
        lease.close();
        return copy(file, "its size is not known (procfs, sysfs)");
    }

    /** Bytes in memory (not copied: the caller never changes them). */
    public static PayloadFile of(byte[] bytes) {
        return new PayloadFile("(memory)", ByteBuffer.wrap(bytes), Source.MEMORY, null, null);
    }

    private static PayloadFile copy(Path file, String reason) {
        byte[] b = BoundedFiles.read(file, BoundedFiles.PAYLOAD);
        return new PayloadFile(file.toString(), ByteBuffer.wrap(b), Source.COPY, reason, null);
    }

    /**
     * The leased open file, mapped: through /proc/self/fd, so the mapping is of the very file the lease is on (not of
     * whatever the path names by now); null for a file whose size stat does not tell.
     */
    private static PayloadFile mapped(String name, ReadLease lease, long limit) {
        try (FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/" + lease.fd()), StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) return null;
            if (size > limit) {
                throw new BadInputException(name + ": " + size + " bytes is over the payload limit of " + limit
                        + " bytes (KEXEC_MEASURED_MAX_PAYLOAD=SIZE raises it, up to 2047M)");
            }
            ByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            // never compared by memcmp: a truncated file under it must stay an InternalError (exit 2), not SIGBUS
            ByteViews.fileMapped(m);
            return new PayloadFile(name, m, Source.MAPPED, null, lease);
        } catch (IOException e) {
            throw new BadInputException(name + ": cannot map: " + e.getMessage());
        }
    }

    /** The bytes: a new read-only, little-endian view at position 0 (callers may move its position freely). */
    public ByteBuffer buffer() {
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The payload's size in bytes. */
    public int size() {
        return data.capacity();
    }

    /** How the bytes are held. */
    public Source source() {
        return source;
    }

    /** Why the file was copied instead of mapped; null when mapped or in memory. */
    public String fallbackReason() {
        return fallbackReason;
    }

    /** "mapped", or "copy: the reason" (for the stats). */
    public String describeSource() {
        return fallbackReason == null ? source.id : source.id + ": " + fallbackReason;
    }

    /**
     * Refuses when the mapped file may have changed since it was mapped (its read lease was broken: someone opened it
     * for writing or truncated it). Called before every irreversible step and after the last read; a copy never changes.
     *
     * @param when what was about to happen, for the message ("before the TPM is extended")
     */
    public void checkUnchanged(String when) {
        if (lease != null && !lease.held()) {
            throw new BadInputException(name + ": the payload file was opened for writing or truncated while it was being"
                    + " checked and run (its read lease was broken); refused " + when + ", since the bytes checked may not"
                    + " be the bytes measured and loaded (nothing was extended)");
        }
    }

    /**
     * Whether {@code t} is the JVM's report of a Java read of a mapped file whose pages are gone: the file was
     * truncated under the mapping (here: after its read lease was broken and the writer's 45 s wait ran out, during
     * a long run), so the read got SIGBUS, which HotSpot turns into an {@link InternalError} "a fault occurred in an
     * unsafe memory access operation", or "… in a recent unsafe memory access operation in compiled Java code",
     * raised in the reading thread at the read or shortly after it. A read from native code would end the process
     * instead: libcrypto's reads have {@link #checkUnchanged} before every large hash (and before {@code boot.Hashing}
     * compares a large measurement with the payload's bytes), and libc's {@code memcmp} never reads the mapping
     * ({@code util.ByteViews#fileMapped}: comparisons that touch it, the emulator's {@code LoadImage} and candidate
     * sections among them, run in the JDK).
     */
    public static boolean isTruncatedMappingFault(Throwable t) {
        return t instanceof InternalError && t.getMessage() != null
                && t.getMessage().contains("unsafe memory access operation");
    }

    /**
     * The one-line refusal for {@link #isTruncatedMappingFault} (exit 2), for a caller that has made sure no PCR was
     * extended yet ({@code cli.Main}).
     */
    public static final String CHANGED_WHILE_READ = "the payload changed while it was read: a file mapped for reading"
            + " was truncated under the mapping (someone opened it for writing, which broke its read lease, and truncated it"
            + " once the lease's 45 s had passed); refused, no PCR was extended";

    /** Ends the lease (the mapping stays readable; call {@link #checkUnchanged} before, not after). */
    @Override
    public void close() {
        if (lease != null) lease.close();
    }
}
