package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.spi.ProtocolContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The ESP a payload comes from when none was given (no {@code --esp}): real firmware always starts an image
 * from a device, and payloads rely on it (systemd-stub 254 asserts that its LoadedImage has a DeviceHandle;
 * every stub opens that device's file system to look for {@code .extra.d}). It holds just the payload, at
 * {@code \EFI\Linux\<name>}, where systemd-boot finds Type #2 entries, served read-only through
 * EFI_SIMPLE_FILE_SYSTEM_PROTOCOL from a private temporary directory (deleted on {@link #close()}).
 *
 * <p>The handle's device path is that of an ESP on a virtio disk as OVMF shows it:
 * {@code PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,<guid>,0x800,0x100000)}. It is a partition handle's path, so a
 * disk layer (BlockIo, partitions) can later put the same node chain under a real image instead.
 */
final class SynthesizedEsp implements AutoCloseable {

    /** The directory of UKIs (Boot Loader Specification, Type #2). */
    static final String DIRECTORY = "\\EFI\\Linux\\";

    /** The disk's path: the first PCI root bridge, a virtio-blk function (OVMF's q35 slot 3). */
    static final List<DevicePath.Node> DISK = List.of(DevicePath.pciRoot(0), DevicePath.pci(3, 0));

    private final Path root;
    private final long handle;
    private final String filePath;

    /** Writes {@code payload} as {@code \EFI\Linux\<name>} and serves the tree on a new device handle. */
    SynthesizedEsp(ProtocolContext ctx, ImageServices images, String name, java.nio.ByteBuffer payload) {
        String file = fileName(name);
        try {
            root = Files.createTempDirectory("kexec-measured-esp-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the synthesized ESP", e);
        }
        try {
            Path dir = Files.createDirectories(root.resolve("EFI").resolve("Linux"));
            try (java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(dir.resolve(file),
                    java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
                // in slices: the channel copies a heap buffer through a temporary direct one of the size written
                java.nio.ByteBuffer b = payload.duplicate().position(0);
                for (int at = 0; at < b.limit(); ) {
                    java.nio.ByteBuffer part = b.slice(at, Math.min(1 << 20, b.limit() - at));
                    while (part.hasRemaining()) {
                        at += out.write(part);
                    }
                }
            }
            DevicePath dp = DevicePath.of(DISK).append(DevicePath.hardDriveGpt(1, 2048, 1024 * 1024,
                    SimpleFileSystemProtocol.PARTITION_GUID));
            SimpleFileSystemProtocol sfs = new SimpleFileSystemProtocol(ctx, root, dp);
            images.addFileSystem(sfs.handle(), sfs);
            handle = sfs.handle();
            filePath = DIRECTORY + file;
        } catch (IOException | RuntimeException e) {
            delete(root);
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot write the synthesized ESP", io);
            }
            throw (RuntimeException) e;
        }
    }

    /** The payload's file name on the ESP: the name given, reduced to one safe path component ending in .efi. */
    static String fileName(String name) {
        String n = name == null ? "" : name.replaceAll(".*[/\\\\]", "").replaceAll("[^A-Za-z0-9._+-]", "_");
        if (n.isEmpty() || n.equals(".") || n.equals("..")) {
            n = "payload";
        }
        return n.toLowerCase(java.util.Locale.ROOT).endsWith(".efi") ? n : n + ".efi";
    }

    /** The device handle (an ESP partition with a SimpleFileSystem). */
    long handle() {
        return handle;
    }

    /** The payload's path on the ESP, e.g. {@code \EFI\Linux\<name>.efi}. */
    String filePath() {
        return filePath;
    }

    /** The host directory behind it. */
    Path root() {
        return root;
    }

    @Override
    public void close() {
        delete(root);
    }

    private static void delete(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a temporary directory left behind is harmless; the run's result does not depend on it
        }
    }
}
