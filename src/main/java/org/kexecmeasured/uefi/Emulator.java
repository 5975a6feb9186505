package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.uefi.protocol.LoadFile2Protocol;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;
import org.kexecmeasured.util.BadInputException;

import java.util.List;

/**
 * Runs one UEFI payload in the emulator: loads it as the first image (from the ESP's boot path when an
 * ESP is given), starts it, and stops at the cut-over (StartImage of a Linux kernel) or, in full
 * emulation, at the first jump after ExitBootServices.
 */
public final class Emulator {

    private Emulator() {
    }

    public static EmulationResult run(byte[] payload, EmulatorOptions options) {
        UnicornCpu.lib(); // loading libunicorn and JNA is process start-up, not emulation
        long t0 = System.nanoTime();
        try (Firmware fw = new Firmware(options)) {
            LoadFile2Protocol hostInitrd = options.initrd() == null ? null : new LoadFile2Protocol(fw, options.initrd());
            long deviceHandle = 0;
            byte[] filePath;
            if (options.esp() != null) {
                SimpleFileSystemProtocol esp = new SimpleFileSystemProtocol(fw, options.esp());
                deviceHandle = esp.handle();
                filePath = DevicePath.of(List.of(DevicePath.filePath("\\EFI\\BOOT\\BOOTX64.EFI"))).toBytes();
            } else {
                filePath = DevicePath.of(List.of(DevicePath.filePath("\\" + options.payloadName()))).toBytes();
            }
            ImageServices.Image first = fw.images().load(payload, options.payloadName(), 0, deviceHandle, filePath);
            if (options.append() != null) {
                fw.images().setLoadOptions(first, options.append());
            }
            if (first.linux && !options.fullEmulation()) {
                // a bare kernel: nothing runs before the cut-over
                HandOff h = new HandOff(payload, options.append() == null ? "" : options.append(),
                        hostInitrd == null ? new byte[0] : hostInitrd.data(), fw.images().devicePathText(first),
                        "", List.of());
                return result(fw, h, null, t0);
            }
            long entry = fw.images().startFirst(first);
            fw.run(entry);
            if (fw.images().cutover() != null) {
                return result(fw, handOff(fw, fw.images().cutover(), hostInitrd), null, t0);
            }
            if (fw.images().postEbs() != null) {
                return result(fw, null, fw.images().postEbs(), t0);
            }
            Long st = fw.images().topStatus();
            throw new EmulationException(fw.report("the payload returned "
                    + (st == null ? "unexpectedly" : "with status " + EfiStatus.name(st))
                    + " without starting a Linux kernel", fw.machine().cpu().reg(Cpu.Reg.RIP), -1)
                    + consoleTail(fw));
        }
    }

    private static String consoleTail(Firmware fw) {
        String c = fw.console().strip();
        if (c.isEmpty()) {
            return "";
        }
        return "; console: " + (c.length() > 300 ? "…" + c.substring(c.length() - 300) : c).replace('\n', ' ').replace('\r', ' ');
    }

    private static EmulationResult result(Firmware fw, HandOff h, PostEbsState p, long t0) {
        List<RecordingMeasurer.Measurement> ms = fw.options().measurer() instanceof RecordingMeasurer r
                ? r.measurements() : List.of();
        return new EmulationResult(h, p, fw.console(), List.copyOf(fw.machine().trace()), ms,
                fw.runtime().variables().snapshot(), (System.nanoTime() - t0) / 1000);
    }

    /** Builds the hand-off at StartImage(kernel): LoadOptions, and the initrd from the LoadFile2 in place. */
    private static HandOff handOff(Firmware fw, ImageServices.Image kernel, LoadFile2Protocol hostInitrd) {
        String cmdline = fw.images().loadOptions(kernel);
        byte[] initrd = new byte[0];
        byte[] initrdPath = DevicePath.of(List.of(DevicePath.vendorMedia(LoadFile2Protocol.LINUX_EFI_INITRD_MEDIA))).toBytes();
        long[] r = fw.protocols().locateDevicePath(LoadFile2Protocol.GUID, initrdPath);
        if (r != null && r[1] == initrdPath.length - 4) {
            long iface = fw.protocols().get(r[0], LoadFile2Protocol.GUID);
            if (hostInitrd != null && iface == hostInitrd.address()) {
                initrd = hostInitrd.data();
            } else {
                initrd = callLoadFile2(fw, iface);
            }
        }
        return new HandOff(kernel.file, cmdline, initrd, fw.images().devicePathText(kernel), fw.console(),
                fw.machine().trace(), fw.images().loadOptionsBytes(kernel));
    }

    /** The Linux stub's sequence: LoadFile(size probe) → BUFFER_TOO_SMALL, then LoadFile into a buffer. */
    private static byte[] callLoadFile2(Firmware fw, long iface) {
        GuestMemory m = fw.mem();
        long fn = m.u64(iface);
        long scratch = fw.allocatePages(MemoryType.BootServicesData, 1);
        if (scratch < 0) {
            throw new EmulationException("out of memory before the initrd host call");
        }
        long endNode = scratch;
        m.write(endNode, new byte[]{0x7F, (byte) 0xFF, 4, 0});
        long sizePtr = scratch + 16;
        m.putU64(sizePtr, 0);
        long st = fw.images().hostCall(fn, iface, endNode, 0, sizePtr, 0);
        if (st == EfiStatus.NOT_FOUND) {
            return new byte[0];
        }
        if (st != EfiStatus.BUFFER_TOO_SMALL) {
            throw new EmulationException("the payload's initrd LoadFile2 size probe returned " + EfiStatus.name(st));
        }
        long size = m.u64(sizePtr);
        if (size < 0 || size > Math.min(fw.memoryMap().freeBytes(), 1L << 30)) {
            throw new BadInputException("the payload's initrd LoadFile2 reports an impossible size " + size);
        }
        long buf = fw.allocatePages(MemoryType.LoaderData, Math.max(1, (size + 4095) / 4096));
        if (buf < 0) {
            throw new EmulationException("out of memory for the initrd (" + size + " bytes)");
        }
        st = fw.images().hostCall(fn, iface, endNode, 0, sizePtr, buf);
        if (st != EfiStatus.SUCCESS) {
            throw new EmulationException("the payload's initrd LoadFile2 returned " + EfiStatus.name(st));
        }
        long got = m.u64(sizePtr);
        if (got < 0 || got > size) {
            throw new EmulationException("the payload's initrd LoadFile2 returned " + got + " bytes after announcing " + size);
        }
        return m.read(buf, got);
    }
}
