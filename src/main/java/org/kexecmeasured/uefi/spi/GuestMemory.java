package org.kexecmeasured.uefi.spi;

import org.kexecmeasured.efi.Guid;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Guest physical memory with typed little-endian helpers. Unmapped accesses throw {@link GuestMemoryException}.
 *
 * <p>Every write through this interface is a host write done for the guest (a service's output, CopyMem, SetMem,
 * a loaded image, a protocol's buffer): it goes only into {@linkplain #isGuestWritable guest-writable} RAM and
 * is refused, before anything is written, elsewhere, including memory that is mapped but read-only to the guest
 * (the firmware's trap page). The engine's own write ignores page protections, so this check is what keeps a
 * payload from making the host patch what the payload itself may not. Memory the firmware fills once and the
 * guest must not change gets its content when it is mapped ({@code Cpu.mapReadExecute}).
 */
public interface GuestMemory {

    void read(long address, byte[] dst, int off, int len);

    /** Writes for the guest: all of the range must be {@link #isGuestWritable}, checked before anything is written. */
    void write(long address, byte[] src, int off, int len);

    /**
     * True if all of [address, address + len) is guest RAM (len unsigned; a range that wraps is not).
     * Implementations that track their mappings override this; the default trusts the access to fail.
     */
    default boolean isMapped(long address, long len) {
        return true;
    }

    /**
     * True if all of [address, address + len) is RAM the guest may write (len unsigned; a range that wraps is
     * not): what every write through this interface requires. RAM whose pages are still deferred
     * ({@link #place}, {@link #zeroPages}) counts; mapped memory the guest cannot write (the read-execute trap
     * page) does not. Default: {@link #isMapped}, for an implementation without protections.
     */
    default boolean isGuestWritable(long address, long len) {
        return isMapped(address, len);
    }

    /** The refusal of a write of {@code len} bytes at {@code address} that is not {@link #isGuestWritable}. */
    default GuestMemoryException notWritable(String what, long address, long len) {
        boolean mapped = len >= 0 && isMapped(address, len);
        return new GuestMemoryException(what + " of 0x" + Long.toHexString(len) + " bytes at 0x"
                + Long.toHexString(address) + (mapped ? " into read-only memory (the guest cannot write there)"
                : " outside guest RAM"), address);
    }

    /**
     * Reads {@code len} bytes. The range is checked against mapped RAM before the host buffer is allocated,
     * so a guest-chosen length cannot make the host allocate more than the guest has.
     */
    default byte[] read(long address, int len) {
        return read(address, (long) len);
    }

    /** As {@link #read(long, int)} for a guest-supplied 64-bit length (negative = above 2^63 = rejected). */
    default byte[] read(long address, long len) {
        if (len < 0 || len > MAX_READ) {
            throw new GuestMemoryException("read of 0x" + Long.toHexString(len) + " bytes at 0x"
                    + Long.toHexString(address) + ": length too large", address);
        }
        if (!isMapped(address, len)) {
            throw new GuestMemoryException("read of " + len + " bytes at 0x" + Long.toHexString(address)
                    + " outside guest RAM", address);
        }
        byte[] b = new byte[(int) len];
        read(address, b, 0, (int) len);
        return b;
    }

    /** Largest single host copy of guest memory (the largest image, {@code ImageServices.MAX_IMAGE}). */
    long MAX_READ = 512L << 20;

    /** Bytes per piece of {@link #readPieces}. */
    int PIECE = 1 << 20;

    /**
     * Reads [address, address + len) in pieces of at most {@link #PIECE} bytes, in order, without a host copy
     * of the whole range. The range is checked against mapped RAM first (a guest-chosen length reads nothing
     * when it is not all RAM). Each piece is read-only and valid only until {@code piece} returns.
     */
    default void readPieces(long address, long len, java.util.function.Consumer<java.nio.ByteBuffer> piece) {
        if (len < 0 || !isMapped(address, len)) {
            throw new GuestMemoryException("read of 0x" + Long.toHexString(len) + " bytes at 0x"
                    + Long.toHexString(address) + " outside guest RAM", address);
        }
        byte[] chunk = new byte[(int) Math.min(len, PIECE)];
        for (long done = 0; done < len; ) {
            int n = (int) Math.min(chunk.length, len - done);
            read(address + done, chunk, 0, n);
            piece.accept(java.nio.ByteBuffer.wrap(chunk, 0, n).slice().asReadOnlyBuffer());
            done += n;
        }
    }

    /**
     * The bytes of [address, address + len) as a read-only view of the unchanging host bytes they were placed from
     * ({@link #place}: a payload section), when guest memory holds exactly those bytes now (pages the guest has not
     * touched by memory identity, pages it touched compared); else null, and the caller reads them. The view is what guest memory holds at the call and stays that (the host bytes never
     * change), even when the guest writes there later: a consumer keeps it instead of a copy. A read path: it
     * changes nothing. By default null (memory that defers nothing).
     */
    default java.nio.ByteBuffer placedContent(long address, long len) {
        return null;
    }

    /** [address, address + len) as {@link GuestBytes}: read when used, in pieces or whole. */
    default GuestBytes bytes(long address, long len) {
        if (len < 0 || len > MAX_READ || !isMapped(address, len)) {
            throw new GuestMemoryException("read of 0x" + Long.toHexString(len) + " bytes at 0x"
                    + Long.toHexString(address) + " outside guest RAM", address);
        }
        GuestMemory m = this;
        return new GuestBytes() {
            @Override
            public long length() {
                return len;
            }

            @Override
            public void forEachPiece(java.util.function.Consumer<java.nio.ByteBuffer> piece) {
                m.readPieces(address, len, piece);
            }

            @Override
            public byte[] head(int n) {
                return m.read(address, Math.min(n, len));
            }

            @Override
            public byte[] toArray() {
                return m.read(address, len);
            }

            @Override
            public java.nio.ByteBuffer snapshot() {
                java.nio.ByteBuffer v = m.placedContent(address, len);
                return v != null ? v : GuestBytes.super.snapshot();
            }

            @Override
            public java.nio.ByteBuffer placedView() {
                return m.placedContent(address, len);
            }
        };
    }

    default void write(long address, byte[] src) {
        write(address, src, 0, src.length);
    }

    /**
     * Puts {@code content}'s remaining bytes at {@code address}, as {@link #write} does for the guest and the host
     * alike, where the bytes stay unchanged for the rest of the run (an image's sections from the payload). An
     * implementation may defer the copy until the guest touches the pages (UnicornCpu does, for large content:
     * a UKI's initrd then reaches guest RAM only if the guest reads it); {@code content} must then not change.
     */
    default void place(long address, java.nio.ByteBuffer content) {
        java.nio.ByteBuffer b = content.duplicate();
        if (b.hasArray()) {
            write(address, b.array(), b.arrayOffset() + b.position(), b.remaining());
            return;
        }
        byte[] chunk = new byte[Math.min(b.remaining(), PIECE)];
        for (long at = address; b.hasRemaining(); ) {
            int n = Math.min(chunk.length, b.remaining());
            b.get(chunk, 0, n);
            write(at, chunk, 0, n);
            at += n;
        }
    }

    /**
     * Copies {@code len} bytes from {@code src} to {@code dst} with memmove semantics (overlap allowed). The source
     * must be guest RAM and the destination {@link #isGuestWritable}: checked before anything is written. An
     * implementation may copy without touching the
     * destination's pages when the source is content it still holds deferred ({@link #place}).
     */
    default void copy(long dst, long src, long len) {
        if (len < 0 || !isMapped(src, len)) {
            throw new GuestMemoryException("copy of 0x" + Long.toHexString(len) + " bytes from 0x"
                    + Long.toHexString(src) + " to 0x" + Long.toHexString(dst) + " outside guest RAM", src);
        }
        if (!isGuestWritable(dst, len)) {
            throw notWritable("copy", dst, len);
        }
        byte[] step = new byte[(int) Math.min(len, 4 * PIECE)];
        for (long off = 0; off < len; ) {
            int n = (int) Math.min(len - off, step.length);
            // a whole step through a host buffer is memmove-safe; on overlap with dst above src go backwards
            long o = dst > src && dst < src + len ? len - off - n : off;
            read(src + o, step, 0, n);
            write(dst + o, step, 0, n);
            off += n;
        }
    }

    /**
     * Sets the whole pages [address, address + len) to zero, for a buffer the guest is about to fill: an
     * implementation may leave them out of host memory until they are used. Default: {@link #fill}.
     */
    default void zeroPages(long address, long len) {
        fill(address, len, (byte) 0);
    }

    default int u8(long a) {
        return read(a, 1)[0] & 0xff;
    }

    default int u16(long a) {
        byte[] b = read(a, 2);
        return (b[0] & 0xff) | (b[1] & 0xff) << 8;
    }

    default long u32(long a) {
        byte[] b = read(a, 4);
        return ((b[0] & 0xffL) | (b[1] & 0xffL) << 8 | (b[2] & 0xffL) << 16 | (b[3] & 0xffL) << 24);
    }

    default long u64(long a) {
        byte[] b = read(a, 8);
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }

    default void putU8(long a, int v) {
        write(a, new byte[]{(byte) v});
    }

    default void putU32(long a, long v) {
        write(a, new byte[]{(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)});
    }

    default void putU64(long a, long v) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        write(a, b);
    }

    default Guid guid(long a) {
        return Guid.read(read(a, 16), 0);
    }

    default void putGuid(long a, Guid g) {
        write(a, g.toBytes());
    }

    /** A NUL-terminated UCS-2 string of at most {@code maxChars} characters (longer is an error). */
    default String utf16z(long a, int maxChars) {
        StringBuilder sb = new StringBuilder();
        // read in chunks to keep host calls few
        long p = a;
        while (true) {
            byte[] b = read(p, 64);
            for (int i = 0; i < 64; i += 2) {
                char c = (char) ((b[i] & 0xff) | (b[i + 1] & 0xff) << 8);
                if (c == 0) {
                    return sb.toString();
                }
                sb.append(c);
                if (sb.length() > maxChars) {
                    throw new GuestMemoryException("string at 0x" + Long.toHexString(a) + " longer than "
                            + maxChars + " characters", a);
                }
            }
            p += 64;
        }
    }

    /** The UCS-2 bytes of {@code s} with its NUL. */
    static byte[] utf16zBytes(String s) {
        return (s + "\0").getBytes(StandardCharsets.UTF_16LE);
    }

    /** Largest device path read from the guest (a real one is a few hundred bytes). */
    int MAX_DEVICE_PATH = 64 << 10;

    /** A device path (EFI_DEVICE_PATH_PROTOCOL nodes up to and including the end node); at most 64 KiB. */
    default byte[] devicePath(long address) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long p = address;
        while (true) {
            byte[] h = read(p, 4);
            int len = (h[2] & 0xff) | (h[3] & 0xff) << 8;
            if (len < 4) {
                throw new GuestMemoryException("device path node at 0x" + Long.toHexString(p) + " has length " + len, p);
            }
            out.writeBytes(read(p, len));
            if ((h[0] & 0xff) == 0x7F && (h[1] & 0xff) == 0xFF) {
                return out.toByteArray();
            }
            p += len;
            if (out.size() > MAX_DEVICE_PATH) {
                throw new GuestMemoryException("device path at 0x" + Long.toHexString(address) + " longer than 64 KiB",
                        address);
            }
        }
    }

    /**
     * Whether every byte of [address, address + len) is provably still 0 as it was mapped: no write (host or guest)
     * can have reached it. Lets the firmware skip zero-filling its fresh allocations during set-up; false whenever
     * unsure, which is always correct (the default).
     */
    default boolean untouchedZeros(long address, long len) {
        return false;
    }

    /**
     * Sets {@code len} bytes (an unsigned guest length) at {@code a} to {@code v}. The whole range must be
     * {@link #isGuestWritable}: it is checked before anything is written, so a bad length changes nothing.
     */
    default void fill(long a, long len, byte v) {
        if (len < 0 || !isGuestWritable(a, len)) { // a UINTN of 2^63 or more is never RAM
            throw notWritable("fill", a, len);
        }
        byte[] chunk = new byte[(int) Math.min(len, 1 << 20)];
        if (v != 0) {
            java.util.Arrays.fill(chunk, v);
        }
        long done = 0;
        while (done < len) {
            int n = (int) Math.min(chunk.length, len - done);
            write(a + done, chunk, 0, n);
            done += n;
        }
    }
}
