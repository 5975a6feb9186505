package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.EfiTime;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.HandleDatabase;
import org.kexecmeasured.uefi.spi.HostFileSystem;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;
import org.kexecmeasured.uefi.spi.ServiceException;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * EFI_SIMPLE_FILE_SYSTEM_PROTOCOL and EFI_FILE_PROTOCOL over a host directory (the ESP), read-only.
 *
 * <p>Paths are resolved as component lists inside the tree ("." and ".." never leave the root), every
 * component is looked up case-insensitively among the real entries of its directory (FAT semantics), and
 * symbolic links are never followed, so no guest path reaches outside the directory. As a
 * {@link HostFileSystem} it also serves LoadImage from a device path on its handle.
 */
public final class SimpleFileSystemProtocol implements HostFileSystem {

    public static final Guid GUID = Guid.parse("964e5b22-6459-11d2-8e39-00a0c969723b");
    public static final Guid FILE_INFO = Guid.parse("09576e92-6d3f-11d2-8e39-00a0c969723b");
    public static final Guid FILE_SYSTEM_INFO = Guid.parse("09576e93-6d3f-11d2-8e39-00a0c969723b");
    /** The ESP partition GUID reported in the HD() node (fixed, so runs are reproducible). */
    public static final Guid PARTITION_GUID = Guid.parse("0d2b2c04-9b0e-4b2d-8f4e-6b6578656361");
    public static final int MAX_OPEN = 4096;
    /** Host buffer for one step of File.Read. */
    private static final int READ_CHUNK = 1 << 20;
    private static final String[] FILE_FNS = {"Open", "Close", "Delete", "Read", "Write", "GetPosition",
        "SetPosition", "GetInfo", "SetInfo", "Flush"};

    private final ProtocolContext ctx;
    private final GuestMemory m;
    private final Path root;
    private final long handle;
    private final long[] fileFns = new long[FILE_FNS.length];
    private final Map<Long, OpenFile> open = new HashMap<>();
    private final Deque<Long> freeStructs = new ArrayDeque<>();

    /** An open EFI_FILE_PROTOCOL instance. */
    private static final class OpenFile {
        final List<String> components;
        final Path host;
        final boolean dir;
        long position;
        List<Path> listing;

        OpenFile(List<String> components, Path host, boolean dir) {
            this.components = components;
            this.host = host;
            this.dir = dir;
        }
    }

    /** Serves the directory {@code root} on a new handle with an HD() device path. */
    public SimpleFileSystemProtocol(ProtocolContext ctx, Path root) {
        this(ctx, root, DevicePath.of(List.of(DevicePath.hardDriveGpt(1, 2048, 1024 * 1024, PARTITION_GUID))));
    }

    /** Serves the directory {@code root} on a new handle with the device path {@code devicePath}. */
    public SimpleFileSystemProtocol(ProtocolContext ctx, Path root, DevicePath devicePath) {
        this(ctx, root, devicePath, 0);
    }

    /** Serves the directory {@code root} on {@code onHandle}: a disk's ESP partition handle, which has its path. */
    public SimpleFileSystemProtocol(ProtocolContext ctx, Path root, long onHandle) {
        this(ctx, root, null, requireHandle(onHandle));
    }

    private static long requireHandle(long h) {
        if (h == 0) {
            throw new IllegalArgumentException("no handle to install the simple file system on");
        }
        return h;
    }

    private SimpleFileSystemProtocol(ProtocolContext ctx, Path root, DevicePath devicePath, long onHandle) {
        this.ctx = ctx;
        this.m = ctx.mem();
        this.root = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(this.root)) {
            throw new BadInputException("ESP directory " + root + " does not exist");
        }
        Service[] fns = {this::open, this::close, this::delete, this::read, c -> EfiStatus.WRITE_PROTECTED,
            this::getPosition, this::setPosition, this::getInfo, c -> EfiStatus.WRITE_PROTECTED, c -> EfiStatus.SUCCESS};
        for (int i = 0; i < fns.length; i++) {
            fileFns[i] = ctx.slots().slot("File." + FILE_FNS[i], fns[i]);
        }
        long sfs = ctx.allocator().firmwareAlloc(16);
        m.putU64(sfs, 0x00010000);
        m.putU64(sfs + 8, ctx.slots().slot("SimpleFileSystem.OpenVolume", c -> {
            if (c.arg(1) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long f = newFile(new OpenFile(List.of(), this.root, true));
            if (f == 0) {
                return EfiStatus.OUT_OF_RESOURCES;
            }
            m.putU64(c.arg(1), f);
            return EfiStatus.SUCCESS;
        }));
        if (onHandle == 0) {
            long dpa = ctx.allocator().firmwareCopy(devicePath.toBytes());
            onHandle = ctx.handles().install(0, HandleDatabase.DEVICE_PATH, dpa);
        }
        handle = onHandle;
        ctx.handles().install(handle, GUID, sfs);
    }

    public long handle() {
        return handle;
    }

    private long newFile(OpenFile f) {
        if (open.size() >= MAX_OPEN) {
            return 0;
        }
        long a = freeStructs.isEmpty() ? ctx.allocator().firmwareAlloc(8 * 11) : freeStructs.pop();
        m.putU64(a, 0x00010000);
        for (int i = 0; i < fileFns.length; i++) {
            m.putU64(a + 8 + 8L * i, fileFns[i]);
        }
        open.put(a, f);
        return a;
    }

    // ---------------------------------------------------------------- path resolution

    /** Resolves {@code name} relative to {@code base}; null if it does not exist. */
    private OpenFile resolve(List<String> base, String name) {
        List<String> comps = new ArrayList<>(name.startsWith("\\") ? List.of() : base);
        for (String part : name.split("\\\\")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (!comps.isEmpty()) {
                    comps.remove(comps.size() - 1);
                }
                continue;
            }
            comps.add(part);
        }
        Path p = root;
        for (String c : comps) {
            p = lookup(p, c);
            if (p == null) {
                return null;
            }
        }
        boolean dir = Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
        if (!dir && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        return new OpenFile(comps, p, dir);
    }

    /** The entry of directory {@code dir} named {@code name} ignoring case, not a symlink; or null. */
    private static Path lookup(Path dir, String name) {
        if (name.contains("/") || name.indexOf('\0') >= 0 || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        Path exact = dir.resolve(name);
        if (exact.getParent().equals(dir) && Files.exists(exact, LinkOption.NOFOLLOW_LINKS)
                && !Files.isSymbolicLink(exact)) {
            return exact;
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path e : (Iterable<Path>) s::iterator) {
                if (e.getFileName().toString().equalsIgnoreCase(name) && !Files.isSymbolicLink(e)) {
                    return e;
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    @Override
    public byte[] readFile(String efiPath, long maxSize) {
        OpenFile f = resolve(List.of(), efiPath);
        if (f == null || f.dir) {
            return null;
        }
        // the size is checked before anything is read: a huge file on the ESP must not fill the host heap
        try (FileChannel ch = FileChannel.open(f.host, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
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
        } catch (IOException e) {
            return null;
        }
    }

    // ---------------------------------------------------------------- EFI_FILE_PROTOCOL

    private OpenFile self(long This) {
        OpenFile f = open.get(This);
        if (f == null) {
            throw new ServiceException("File protocol call on 0x" + Long.toHexString(This)
                    + ", which is no open file");
        }
        return f;
    }

    private long open(Call c) {
        OpenFile base = self(c.arg(0));
        if (c.arg(1) == 0 || c.arg(2) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long mode = c.arg(3);
        if (mode != 1) {
            return (mode & 1) == 0 ? EfiStatus.INVALID_PARAMETER : EfiStatus.WRITE_PROTECTED;
        }
        String name = m.utf16z(c.arg(2), 4096);
        OpenFile f = resolve(base.components, name);
        if (f == null) {
            return EfiStatus.NOT_FOUND;
        }
        long a = newFile(f);
        if (a == 0) {
            return EfiStatus.OUT_OF_RESOURCES;
        }
        m.putU64(c.arg(1), a);
        return EfiStatus.SUCCESS;
    }

    private long close(Call c) {
        self(c.arg(0));
        open.remove(c.arg(0));
        freeStructs.push(c.arg(0));
        return EfiStatus.SUCCESS;
    }

    private long delete(Call c) {
        close(c);
        return 2; // EFI_WARN_DELETE_FAILURE
    }

    private long read(Call c) {
        OpenFile f = self(c.arg(0));
        long sizePtr = c.arg(1);
        if (sizePtr == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        long want = m.u64(sizePtr);
        try {
            if (f.dir) {
                if (f.listing == null) {
                    try (Stream<Path> s = Files.list(f.host)) {
                        f.listing = s.filter(p -> !Files.isSymbolicLink(p)).sorted().toList();
                    }
                }
                if (f.position >= f.listing.size()) {
                    m.putU64(sizePtr, 0);
                    return EfiStatus.SUCCESS;
                }
                byte[] info = fileInfo(f.listing.get((int) f.position));
                if (want < info.length) {
                    m.putU64(sizePtr, info.length);
                    return EfiStatus.BUFFER_TOO_SMALL;
                }
                m.write(c.arg(2), info);
                m.putU64(sizePtr, info.length);
                f.position++;
                return EfiStatus.SUCCESS;
            }
            // positional reads in bounded chunks straight into guest memory: no per-file host copy
            long done = 0;
            try (FileChannel ch = FileChannel.open(f.host, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                long size = ch.size();
                long n = f.position < 0 || f.position >= size ? 0 : Math.min(want < 0 ? Long.MAX_VALUE : want,
                        size - f.position);
                if (n > 0 && c.arg(2) == 0) {
                    return EfiStatus.INVALID_PARAMETER;
                }
                if (n > 0 && !m.isGuestWritable(c.arg(2), n)) { // before the first chunk: nothing written
                    throw m.notWritable("File.Read", c.arg(2), n);
                }
                ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(n, READ_CHUNK));
                while (done < n) {
                    chunk.clear().limit((int) Math.min(chunk.capacity(), n - done));
                    int r = ch.read(chunk, f.position + done);
                    if (r <= 0) {
                        break;
                    }
                    m.write(c.arg(2) + done, chunk.array(), 0, r);
                    done += r;
                }
            }
            f.position += done;
            m.putU64(sizePtr, done);
            return EfiStatus.SUCCESS;
        } catch (IOException e) {
            return EfiStatus.DEVICE_ERROR;
        }
    }

    private long getPosition(Call c) {
        OpenFile f = self(c.arg(0));
        if (f.dir) {
            return EfiStatus.UNSUPPORTED;
        }
        if (c.arg(1) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        m.putU64(c.arg(1), f.position);
        return EfiStatus.SUCCESS;
    }

    private long setPosition(Call c) {
        OpenFile f = self(c.arg(0));
        long pos = c.arg(1);
        if (f.dir) {
            if (pos != 0) {
                return EfiStatus.UNSUPPORTED;
            }
            f.position = 0;
            f.listing = null;
            return EfiStatus.SUCCESS;
        }
        try {
            long size = Files.size(f.host);
            f.position = pos == -1 ? size : pos;
        } catch (IOException e) {
            return EfiStatus.DEVICE_ERROR;
        }
        return EfiStatus.SUCCESS;
    }

    private long getInfo(Call c) {
        OpenFile f = self(c.arg(0));
        if (c.arg(1) == 0 || c.arg(2) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Guid type = m.guid(c.arg(1));
        byte[] info;
        try {
            if (type.equals(FILE_INFO)) {
                info = fileInfo(f.host);
                if (f.components.isEmpty()) { // the root's name is empty
                    info = fileInfo(f.host, "");
                }
            } else if (type.equals(FILE_SYSTEM_INFO)) {
                byte[] label = "ESP\0".getBytes(StandardCharsets.UTF_16LE);
                ByteBuffer bb = ByteBuffer.allocate(36 + label.length).order(ByteOrder.LITTLE_ENDIAN);
                bb.putLong(36 + label.length).put((byte) 1).position(16);
                bb.putLong(512L << 20).putLong(0).putInt(512).put(label);
                info = bb.array();
            } else {
                return EfiStatus.UNSUPPORTED;
            }
        } catch (IOException e) {
            return EfiStatus.DEVICE_ERROR;
        }
        long have = m.u64(c.arg(2));
        m.putU64(c.arg(2), info.length);
        if (have < info.length) {
            return EfiStatus.BUFFER_TOO_SMALL;
        }
        if (c.arg(3) == 0) {
            return EfiStatus.INVALID_PARAMETER;
        }
        m.write(c.arg(3), info);
        return EfiStatus.SUCCESS;
    }

    private static byte[] fileInfo(Path p) throws IOException {
        return fileInfo(p, p.getFileName().toString());
    }

    /** EFI_FILE_INFO: Size, FileSize, PhysicalSize, 3 × EFI_TIME, Attribute, FileName (UCS-2, NUL). */
    private static byte[] fileInfo(Path p, String name) throws IOException {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        byte[] n = (name + "\0").getBytes(StandardCharsets.UTF_16LE);
        ByteBuffer bb = ByteBuffer.allocate(80 + n.length).order(ByteOrder.LITTLE_ENDIAN);
        long size = a.isDirectory() ? 0 : a.size();
        bb.putLong(80 + n.length).putLong(size).putLong((size + 511) & ~511L);
        byte[] t = EfiTime.encode(a.lastModifiedTime().toInstant());
        bb.put(t).put(t).put(t);
        bb.putLong(a.isDirectory() ? 0x10 : 0x20);
        bb.put(n);
        return bb.array();
    }
}
