package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.uefi.protocol.MemoryFileTree;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.spi.ProtocolContext;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;

/**
 * The ESP a payload comes from when none was given (no {@code --esp}): real firmware always starts an image
 * from a device, and payloads rely on it (systemd-stub 254 asserts that its LoadedImage has a DeviceHandle;
 * every stub opens that device's file system to look for {@code .extra.d}). It holds just the payload, at
 * {@code \EFI\Linux\<name>}, where systemd-boot finds Type #2 entries, served read-only through
 * EFI_SIMPLE_FILE_SYSTEM_PROTOCOL from the payload's own bytes ({@link MemoryFileTree}): nothing is written to the
 * host's file system, and a guest read copies only what it reads. Every entry's time is the ESP's creation (to the
 * second, as EFI_TIME carries it), what a copy written then would show.
 *
 * <p>The handle's device path is that of an ESP on a virtio disk as OVMF shows it:
 * {@code PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,<guid>,0x800,0x100000)}. It is a partition handle's path, so a
 * disk layer (BlockIo, partitions) can later put the same node chain under a real image instead.
 */
final class SynthesizedEsp {

    /** The directory of UKIs (Boot Loader Specification, Type #2). */
    static final String DIRECTORY = "\\EFI\\Linux\\";

    /** The disk's path: the first PCI root bridge, a virtio-blk function (OVMF's q35 slot 3). */
    static final List<DevicePath.Node> DISK = List.of(DevicePath.pciRoot(0), DevicePath.pci(3, 0));

    private final long handle;
    private final String filePath;

    /**
     * Serves {@code payload} (bytes 0 to its limit, not copied: the caller never changes them while the platform
     * lives) as {@code \EFI\Linux\<name>} on a new device handle.
     */
    SynthesizedEsp(ProtocolContext ctx, ImageServices images, String name, ByteBuffer payload) {
        filePath = DIRECTORY + fileName(name);
        MemoryFileTree tree = new MemoryFileTree(Map.of(filePath, payload),
                Instant.now().truncatedTo(ChronoUnit.SECONDS));
        DevicePath dp = DevicePath.of(DISK).append(DevicePath.hardDriveGpt(1, 2048, 1024 * 1024,
                SimpleFileSystemProtocol.PARTITION_GUID));
        SimpleFileSystemProtocol sfs = new SimpleFileSystemProtocol(ctx, tree, dp);
        images.addFileSystem(sfs.handle(), sfs);
        handle = sfs.handle();
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
}
