package org.kexecmeasured.uefi;

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
 *   <li>with {@link EmulatorOptions#rng()}: EFI_RNG_PROTOCOL;</li>
 *   <li>with {@link EmulatorOptions#initrd()}: the Linux initrd LoadFile2 (LINUX_EFI_INITRD_MEDIA);</li>
 *   <li>with {@link EmulatorOptions#esp()}: the ESP as a simple file system with an HD() device path, which
 *   LoadImage can also read files from; without it, {@link #bootDevice} synthesizes an ESP holding the payload
 *   ({@link SynthesizedEsp}), so the payload always has a device handle and a device path.</li>
 * </ul>
 */
public final class Platform implements AutoCloseable {

    /** The production CPU: Unicorn (libunicorn2). */
    public static final Cpu.Factory UNICORN = UnicornCpu::new;

    private final Firmware fw;
    private final long consoleHandle;
    private final LoadFile2Protocol hostInitrd;
    private final long espHandle;
    private SynthesizedEsp synthesized;

    /** A platform on the production CPU. */
    public static Platform create(EmulatorOptions options) {
        return create(options, UNICORN);
    }

    /** A platform on a CPU from {@code cpus}; everything is closed again if construction fails. */
    public static Platform create(EmulatorOptions options, Cpu.Factory cpus) {
        Firmware fw = new Firmware(options, cpus);
        try {
            return new Platform(fw);
        } catch (ServiceException e) {
            fw.close();
            throw new EmulationException("building the platform: " + e.getMessage());
        } catch (RuntimeException | Error e) {
            fw.close();
            throw e;
        }
    }

    private Platform(Firmware fw) {
        this.fw = fw;
        EmulatorOptions o = fw.options();
        ProtocolContext ctx = fw.protocolContext();

        consoleHandle = fw.protocols().newHandle();
        SimpleTextInputProtocol conIn = new SimpleTextInputProtocol(ctx, fw.events(), consoleHandle);
        new SimpleTextInputExProtocol(ctx, fw.events(), consoleHandle);
        SimpleTextOutputProtocol conOut = new SimpleTextOutputProtocol(ctx, fw.console(), consoleHandle);
        fw.setConsole(consoleHandle, conIn.address(), conOut.address());

        new Tcg2Protocol(ctx, fw.configurationTables(), o.measurer());
        if (o.rng() != null) {
            new RngProtocol(ctx, o.rng());
        }
        hostInitrd = o.initrd() == null ? null : new LoadFile2Protocol(ctx, o.initrd());
        if (o.esp() != null) {
            SimpleFileSystemProtocol esp = new SimpleFileSystemProtocol(ctx, o.esp());
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
     * The device the first image is started from and its path there: the given ESP at
     * {@code \EFI\BOOT\BOOTX64.EFI}, or else an ESP synthesized to hold {@code payload} at
     * {@code \EFI\Linux\<name>} (once per platform).
     */
    public BootDevice bootDevice(byte[] payload) {
        if (espHandle != 0) {
            return new BootDevice(espHandle, "\\EFI\\BOOT\\BOOTX64.EFI");
        }
        if (synthesized == null) {
            synthesized = new SynthesizedEsp(fw.protocolContext(), fw.images(), fw.options().payloadName(), payload);
        }
        return new BootDevice(synthesized.handle(), synthesized.filePath());
    }

    /** The ESP synthesized by {@link #bootDevice}, or null. */
    SynthesizedEsp synthesizedEsp() {
        return synthesized;
    }

    /** A device handle and the payload's file path on it. */
    public record BootDevice(long handle, String filePath) {
    }

    @Override
    public void close() {
        try {
            if (synthesized != null) {
                synthesized.close();
            }
        } finally {
            fw.close();
        }
    }
}
