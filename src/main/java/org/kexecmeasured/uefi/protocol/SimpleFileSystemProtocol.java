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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * EFI_SIMPLE_FILE_SYSTEM_PROTOCOL and EFI_FILE_PROTOCOL over a {@link FileTree}, read-only: a host directory (the
 * ESP given) or files in memory (the synthesized ESP serving the payload from its own bytes).
 *
 * <p>Paths are resolved as component lists inside the tree ("." and ".." never leave the root), every
 * component is looked up case-insensitively (FAT semantics), and a host tree never follows a symbolic link, so no
 * guest path reaches outside it. Every way of writing (Open for writing or creating, Write, SetInfo, Delete) is
 * refused as on write-protected media. As a {@link HostFileSystem} it also serves LoadImage from a device path on
 * its handle.
 */
public final class SimpleFileSystemProtocol implements HostFileSystem {

    public static final Guid GUID = Guid.parse("964e5b22-6459-11d2-8e39-00a0c969723b");
    public static final Guid FILE_INFO = Guid.parse("09576e92-6d3f-11d2-8e39-00a0c969723b");
    public static final Guid FILE_SYSTEM_INFO = Guid.parse("09576e93-6d3f-11d2-8e39-00a0c969723b");
    /** The ESP partition GUID reported in the HD() node (fixed, so runs are reproducible). */
    public static final Guid PARTITION_GUID = Guid.parse("0d2b2c04-9b0e-4b2d-8f4e-6b6578656361");
    public static final int MAX_OPEN = 4096;
    private static final String[] FILE_FNS = {"Open", "Close", "Delete", "Read", "Write", "GetPosition",
        "SetPosition", "GetInfo", "SetInfo", "Flush"};

    private final ProtocolContext ctx;
    private final GuestMemory m;
    private final FileTree tree;
    private final long handle;
    private final long[] fileFns = new long[FILE_FNS.length];
    private final Map<Long, OpenFile> open = new HashMap<>();
    private final Deque<Long> freeStructs = new ArrayDeque<>();

    /** An open EFI_FILE_PROTOCOL instance. */
    private static final class OpenFile {
        final List<String> components;
        final FileTree.Entry entry;
        final boolean dir;
        long position;
        List<FileTree.Entry> listing;

        OpenFile(List<String> components, FileTree.Entry entry, boolean dir) {
            this.components = components;
            this.entry = entry;
            this.dir = dir;
        }
    }

    /** Serves the directory {@code root} on a new handle with an HD() device path. */
    public SimpleFileSystemProtocol(ProtocolContext ctx, Path root) {
        this(ctx, root, DevicePath.of(List.of(DevicePath.hardDriveGpt(1, 2048, 1024 * 1024, PARTITION_GUID))));
    }

    /** Serves the directory {@code root} on a new handle with the device path {@code devicePath}. */
    public SimpleFileSystemProtocol(ProtocolContext ctx, Path root, DevicePath devicePath) {
        this(ctx, new HostDirectoryTree(root), devicePath, 0);
    }

    /** Serves {@code tree} on a new handle with the device path {@code devicePath}. */
    public SimpleFileSystemProtocol(ProtocolContext ctx, FileTree tree, DevicePath devicePath) {
        this(ctx, tree, devicePath, 0);
    }

    /** Serves the directory {@code root} on {@code onHandle}: a disk's ESP partition handle, which has its path. */
    public SimpleFileSystemProtocol(ProtocolContext ctx, Path root, long onHandle) {
        this(ctx, new HostDirectoryTree(root), null, requireHandle(onHandle));
    }

    private static long requireHandle(long h) {
        if (h == 0) {
            throw new IllegalArgumentException("no handle to install the simple file system on");
        }
        return h;
    }

    private SimpleFileSystemProtocol(ProtocolContext ctx, FileTree tree, DevicePath devicePath, long onHandle) {
        this.ctx = ctx;
        this.m = ctx.mem();
        this.tree = tree;
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
            long f = newFile(new OpenFile(List.of(), tree.root(), true));
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
        FileTree.Entry e = tree.root();
        for (String c : comps) {
            e = e.child(c);
            if (e == null) {
                return null;
            }
        }
        if (!e.isOpenable()) {
            return null;
        }
        return new OpenFile(comps, e, e.isDirectory());
    }

    @Override
    public byte[] readFile(String efiPath, long maxSize) {
        OpenFile f = resolve(List.of(), efiPath);
        if (f == null || f.dir) {
            return null;
        }
        try {
            return f.entry.readAll(efiPath, maxSize);
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
                    f.listing = f.entry.list();
                }
                if (f.position >= f.listing.size()) {
                    m.putU64(sizePtr, 0);
                    return EfiStatus.SUCCESS;
                }
                FileTree.Entry e = f.listing.get((int) f.position);
                byte[] info = fileInfo(e.info(), e.name());
                if (want < info.length) {
                    m.putU64(sizePtr, info.length);
                    return EfiStatus.BUFFER_TOO_SMALL;
                }
                m.write(c.arg(2), info);
                m.putU64(sizePtr, info.length);
                f.position++;
                return EfiStatus.SUCCESS;
            }
            long size = f.entry.info().size();
            long n = f.position < 0 || f.position >= size ? 0 : Math.min(want < 0 ? Long.MAX_VALUE : want,
                    size - f.position);
            if (n > 0 && c.arg(2) == 0) {
                return EfiStatus.INVALID_PARAMETER;
            }
            if (n > 0 && !m.isGuestWritable(c.arg(2), n)) { // before anything is written
                throw m.notWritable("File.Read", c.arg(2), n);
            }
            long done = n == 0 ? 0 : f.entry.read(f.position, n, m, c.arg(2));
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
            f.position = pos == -1 ? f.entry.info().size() : pos;
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
                info = fileInfo(f.entry.info(), f.entry.name()); // the root's name is empty
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

    /** EFI_FILE_INFO: Size, FileSize, PhysicalSize, 3 × EFI_TIME, Attribute, FileName (UCS-2, NUL). */
    static byte[] fileInfo(FileTree.Info a, String name) {
        byte[] n = (name + "\0").getBytes(StandardCharsets.UTF_16LE);
        ByteBuffer bb = ByteBuffer.allocate(80 + n.length).order(ByteOrder.LITTLE_ENDIAN);
        long size = a.directory() ? 0 : a.size();
        bb.putLong(80 + n.length).putLong(size).putLong((size + 511) & ~511L);
        byte[] t = EfiTime.encode(a.modified());
        bb.put(t).put(t).put(t);
        bb.putLong(a.directory() ? 0x10 : 0x20);
        bb.put(n);
        return bb.array();
    }
}
