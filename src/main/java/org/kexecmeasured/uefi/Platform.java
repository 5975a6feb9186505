package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.disk.BlockDevice;
import org.kexecmeasured.efi.disk.Fat;
import org.kexecmeasured.efi.disk.Gpt;
import org.kexecmeasured.uefi.protocol.DiskDevice;
import org.kexecmeasured.uefi.protocol.GraphicsOutputProtocol;
import org.kexecmeasured.uefi.protocol.LoadFile2Protocol;
import org.kexecmeasured.uefi.protocol.RngProtocol;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.protocol.SimpleTextInputExProtocol;
import org.kexecmeasured.uefi.protocol.SimpleTextInputProtocol;
import org.kexecmeasured.uefi.protocol.SimpleTextOutputProtocol;
import org.kexecmeasured.uefi.protocol.Tcg2Protocol;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.ServiceException;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The emulated platform: the {@link Firmware} core plus the protocols and devices a run offers. This is the
 * composition root: the one place that picks the CPU engine and installs protocols (the image services
 * besides, which create each image's EFI_LOADED_IMAGE_PROTOCOL and read files through
 * EFI_SIMPLE_FILE_SYSTEM_PROTOCOL, as EDK2's core does). A new device or protocol is added here, on the views
 * {@link Firmware} hands out.
 *
 * <ul>
 *   <li>always: the console handle (ConIn, ConInEx, ConOut, also StdErr) and EFI_TCG2_PROTOCOL over the
 *   options' measurer;</li>
 *   <li>with {@link EmulatorOptions#stopAtExitBootServices()} (resume capture): EFI_GRAPHICS_OUTPUT_PROTOCOL on
 *   the console handle ({@link GraphicsOutputProtocol});</li>
 *   <li>with {@link EmulatorOptions#rng()}: EFI_RNG_PROTOCOL;</li>
 *   <li>with {@link EmulatorOptions#initrd()}: the Linux initrd LoadFile2 (LINUX_EFI_INITRD_MEDIA);</li>
 *   <li>with {@link EmulatorOptions#disk()}: the disk (read-only) with a handle per GPT partition, each with
 *   BlockIo and DiskIo ({@link DiskDevice}); GRUB reads its file systems through these;</li>
 *   <li>the ESP as a simple file system, which LoadImage can also read files from: the directory
 *   {@link EmulatorOptions#esp()} (on the disk's EFI system partition handle, or on its own handle with an HD()
 *   device path), or else the disk's EFI system partition, its FAT tree read by {@link Fat} into a private
 *   temporary directory deleted when the platform closes; with neither, {@link #bootDevice} synthesizes an ESP
 *   holding the payload ({@link SynthesizedEsp}: served from the payload's own bytes, nothing written to the host), so
 *   the payload always has a device handle and a device path.</li>
 * </ul>
 */
public final class Platform implements AutoCloseable {

    /** The production CPU: Unicorn (libunicorn2). */
    public static final Cpu.Factory UNICORN = UnicornCpu::new;
    /** The disk's PCI device number: where QEMU's q35 puts the first virtio-blk disk without -device addr. */
    static final int DISK_PCI_DEVICE = 0x3;

    private final Firmware fw;
    private final long consoleHandle;
    private final LoadFile2Protocol hostInitrd;
    private final long espHandle;
    private final BlockDevice disk;
    /** The private copy of the disk's ESP (deleted on close), or null. */
    private final Path espCopy;
    private SynthesizedEsp synthesized;

    /** A platform on the production CPU. */
    public static Platform create(EmulatorOptions options) {
        return create(options, UNICORN);
    }

    /** A platform on a CPU from {@code cpus}; everything is closed again if construction fails. */
    public static Platform create(EmulatorOptions options, Cpu.Factory cpus) {
        // the disk (GPT and the ESP's FAT) is read and checked before any emulator resource exists: a hostile
        // image is bad input, and nothing has run
        BlockDevice disk = options.disk() == null ? null : BlockDevice.open(options.disk());
        Firmware fw;
        Gpt gpt;
        Path espCopy = null;
        try {
            gpt = disk == null ? null : Gpt.read(disk);
            Gpt.Partition esp = gpt == null ? null
                    : gpt.partitions().stream().filter(Gpt.Partition::isEsp).findFirst().orElse(null);
            if (esp != null && options.esp() == null) {
                espCopy = extractEsp(disk, esp);
            }
            fw = new Firmware(options, cpus);
        } catch (RuntimeException | Error e) {
            closeDisk(disk);
            deleteTree(espCopy);
            throw e;
        }
        try {
            return new Platform(fw, disk, gpt, espCopy);
        } catch (ServiceException e) {
            fw.close();
            closeDisk(disk);
            deleteTree(espCopy);
            throw new EmulationException("building the platform: " + e.getMessage());
        } catch (RuntimeException | Error e) {
            fw.close();
            closeDisk(disk);
            deleteTree(espCopy);
            throw e;
        }
    }

    private static Path extractEsp(BlockDevice disk, Gpt.Partition p) {
        Path dir;
        try {
            dir = Files.createTempDirectory("kexec-measured-esp");
        } catch (IOException e) {
            throw new UncheckedIOException("creating the ESP copy", e);
        }
        try {
            new Fat(disk, p.firstLba(), p.blocks(), "disk " + disk.path() + " partition " + p.number()
                    + " (ESP)").extractTo(dir);
            return dir;
        } catch (RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
    }

    private static void deleteTree(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary copy: best effort
        }
    }

    private static void closeDisk(BlockDevice d) {
        if (d != null) {
            d.close();
        }
    }

    private Platform(Firmware fw, BlockDevice disk, Gpt gpt, Path espCopy) {
        this.fw = fw;
        this.disk = disk;
        this.espCopy = espCopy;
        EmulatorOptions o = fw.options();
        ProtocolContext ctx = fw.protocolContext();

        consoleHandle = fw.protocols().newHandle();
        SimpleTextInputProtocol conIn = new SimpleTextInputProtocol(ctx, fw.events(), consoleHandle);
        new SimpleTextInputExProtocol(ctx, fw.events(), consoleHandle);
        SimpleTextOutputProtocol conOut = new SimpleTextOutputProtocol(ctx, fw.console(), consoleHandle);
        fw.setConsole(consoleHandle, conIn.address(), conOut.address());
        if (o.stopAtExitBootServices()) {
            // resume capture: the payload runs on natively, and some (memtest86+) refuse to without a GOP
            new GraphicsOutputProtocol(ctx, consoleHandle);
        }

        // every measured bzImage is a kernel the payload may enter through the boot protocol (GRUB's linux loader)
        new Tcg2Protocol(ctx, fw.configurationTables(), fw.bootProtocol().watching(o.measurer()));
        if (o.rng() != null) {
            new RngProtocol(ctx, o.rng());
        }
        hostInitrd = o.initrd() == null ? null : new LoadFile2Protocol(ctx, o.initrd());
        DiskDevice dev = disk == null ? null : new DiskDevice(ctx, disk, gpt, DISK_PCI_DEVICE);
        if (espCopy != null) {
            // the disk's ESP: its FAT tree copied into a private directory that SimpleFileSystem serves
            SimpleFileSystemProtocol esp = new SimpleFileSystemProtocol(ctx, espCopy, dev.espHandle());
            fw.images().addFileSystem(esp.handle(), esp);
        }
        if (espCopy != null) {
            espHandle = dev.espHandle();
        } else if (o.esp() != null) {
            SimpleFileSystemProtocol esp = dev == null || dev.espHandle() == 0
                    ? new SimpleFileSystemProtocol(ctx, o.esp()) : new SimpleFileSystemProtocol(ctx, o.esp(), dev.espHandle());
            fw.images().addFileSystem(esp.handle(), esp);
            espHandle = esp.handle();
        } else {
            espHandle = 0;
        }
    }

    public Firmware firmware() {
        return fw;
    }

    /** The handle carrying ConIn, ConInEx and ConOut. */
    public long consoleHandle() {
        return consoleHandle;
    }

    /** The LoadFile2 serving {@link EmulatorOptions#initrd()}, or null. */
    public LoadFile2Protocol hostInitrd() {
        return hostInitrd;
    }

    /** The ESP's device handle, or 0 without {@link EmulatorOptions#esp()}. */
    public long espHandle() {
        return espHandle;
    }

    /**
     * The device the first image is started from and its path there: the given ESP (a directory or the disk's)
     * at {@link EmulatorOptions#bootPath()} or {@code \EFI\BOOT\BOOTX64.EFI}, or else an ESP synthesized to hold {@code payload} at
     * {@code \EFI\Linux\<name>} (once per platform).
     */
    public BootDevice bootDevice(byte[] payload) {
        return bootDevice(ByteBuffer.wrap(payload));
    }

    /** As {@link #bootDevice(byte[])} for a payload held as a buffer (0 to its limit). */
    public BootDevice bootDevice(ByteBuffer payload) {
        if (espHandle != 0) {
            String path = fw.options().bootPath();
            return new BootDevice(espHandle, path != null ? path : "\\EFI\\BOOT\\BOOTX64.EFI");
        }
        if (synthesized == null) {
            synthesized = new SynthesizedEsp(fw.protocolContext(), fw.images(), fw.options().payloadName(), payload);
        }
        return new BootDevice(synthesized.handle(), synthesized.filePath());
    }

    /** A device handle and the payload's file path on it. */
    public record BootDevice(long handle, String filePath) {
    }

    @Override
    public void close() {
        fw.close();
        closeDisk(disk);
        deleteTree(espCopy);
    }
}
