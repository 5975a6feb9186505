package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.uefi.protocol.LoadFile2Protocol;
import org.kexecmeasured.uefi.protocol.LoadedImageProtocol;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestBytes;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.uefi.unicorn.UnicornCpu;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.ByteViews;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs one UEFI payload in the emulator: loads it as the first image (from the ESP's boot path when an
 * ESP is given), starts it, and stops at the cut-over (StartImage of a Linux kernel, a jump into a kernel the
 * payload placed itself, or, after the payload's own ExitBootServices, its jump into a kernel it measured through
 * the x86 boot protocol) or, in full emulation, at the first jump after ExitBootServices.
 */
public final class Emulator {

    private Emulator() {
    }

    /** Runs {@code payload} on the production CPU (Unicorn). */
    public static EmulationResult run(byte[] payload, EmulatorOptions options) {
        return run(ByteBuffer.wrap(payload), options);
    }

    /** Runs {@code payload} (bytes 0 to its limit; a mapped file) on the production CPU (Unicorn). */
    public static EmulationResult run(ByteBuffer payload, EmulatorOptions options) {
        UnicornCpu.lib(); // loading libunicorn and JNA is process start-up, not emulation
        return run(payload, options, Platform.UNICORN);
    }

    /** As {@link #run(ByteBuffer, EmulatorOptions, Cpu.Factory)} for an array. */
    public static EmulationResult run(byte[] payload, EmulatorOptions options, Cpu.Factory cpus) {
        return run(ByteBuffer.wrap(payload), options, cpus);
    }

    /**
     * Runs {@code payload} (bytes 0 to its limit) on a CPU from {@code cpus}. The bytes are not copied: the image's
     * large sections reach guest memory as slices of it (deferred until the guest touches them), and the hand-off
     * may share them (the initrd section). The caller never changes them while the result is in use.
     */
    public static EmulationResult run(ByteBuffer payloadBuffer, EmulatorOptions options, Cpu.Factory cpus) {
        ByteBuffer payload = payloadBuffer.duplicate().position(0).slice();
        long t0 = System.nanoTime();
        try (Platform platform = Platform.create(options, cpus)) {
            Firmware fw = platform.firmware();
            ImageServices.Image first = loadFirst(fw, platform, payload);
            if (first.linux && !options.fullEmulation()) {
                // a bare kernel: nothing runs before the cut-over
                LoadFile2Protocol initrd = platform.hostInitrd();
                HandOff h = new HandOff(ImageServices.array(payload), options.append() == null ? "" : options.append(),
                        initrd == null ? new byte[0] : initrd.data(), fw.images().devicePathText(first), "", List.of());
                return result(fw, h, null, t0);
            }
            fw.run(fw.images().startFirst(first));
            ImageServices.Image started = fw.images().cutover();
            if (started != null) {
                return result(fw, handOff(fw, started.data, started.loadedImage, fw.images().devicePathText(started),
                        platform.hostInitrd(), payload), null, t0);
            }
            KernelEntryWatch.Entered entered = fw.kernelEntries().entered();
            if (entered != null) {
                // the whole kernel image must be there, not only its entry code
                KernelEntryWatch.checkImageInMemory(fw.mem(), entered);
                // the payload called the entry of a kernel it placed itself, with its own image handle, whose
                // LoadedImage it pointed at the kernel (FilePath, LoadOptions)
                Long li = fw.protocols().get(entered.imageHandle(), LoadedImageProtocol.GUID);
                if (li == null || li == 0) {
                    throw new EmulationException(fw.reportWithConsole("the payload entered a Linux kernel with image"
                            + " handle 0x" + Long.toHexString(entered.imageHandle()) + ", which has no LoadedImage",
                            entered.address()));
                }
                long fp = fw.mem().u64(li + LoadedImageProtocol.OFF_FILE_PATH);
                String path = fp == 0 ? "" : DevicePath.parse(fw.mem().devicePath(fp)).toText();
                return result(fw, handOff(fw, entered.kernel().file(), li, path, platform.hostInitrd(), payload), null, t0);
            }
            BootProtocolWatch.Entered viaBootParams = fw.bootProtocol().entered();
            if (viaBootParams != null) {
                // the payload jumped into a kernel it measured: after its own ExitBootServices (GRUB's linux loader),
                // or into the EFI handover entry (GRUB's linuxefi loader with Secure Boot on)
                BootProtocolWatch.BootParams bp = BootProtocolWatch.read(fw.mem(), viaBootParams);
                HandOff.Entry entry = viaBootParams.via() == BootProtocolWatch.Via.EFI_HANDOVER
                        ? HandOff.Entry.EFI_HANDOVER : HandOff.Entry.BOOT_PROTOCOL;
                return result(fw, HandOff.adopt(viaBootParams.kernel().file(), bp.cmdline(), ByteBuffer.wrap(bp.initrd()), "",
                        fw.consoleText(), fw.machine().trace(), new byte[0], entry), null, t0);
            }
            if (fw.images().postEbs() != null) {
                return result(fw, null, fw.images().postEbs(), t0);
            }
            Long st = fw.images().topStatus();
            throw new EmulationException(fw.reportWithConsole("the payload returned "
                    + (st == null ? "unexpectedly" : "with status " + EfiStatus.name(st))
                    + " without starting a Linux kernel", fw.machine().cpu().reg(Cpu.Reg.RIP)));
        }
    }

    /**
     * Loads the payload as the boot manager would, from a device: \EFI\BOOT\BOOTX64.EFI of the ESP given, or
     * \EFI\Linux\<name> of an ESP synthesized to hold it.
     */
    private static ImageServices.Image loadFirst(Firmware fw, Platform platform, ByteBuffer payload) {
        EmulatorOptions options = fw.options();
        Platform.BootDevice device = platform.bootDevice(payload);
        byte[] filePath = DevicePath.of(List.of(DevicePath.filePath(device.filePath()))).toBytes();
        ImageServices.Image first = fw.images().load(payload, options.payloadName(), 0, device.handle(), filePath);
        if (options.append() != null) {
            fw.images().setLoadOptions(first, options.append());
        }
        return first;
    }

    private static EmulationResult result(Firmware fw, HandOff h, PostEbsState p, long t0) {
        List<RecordingMeasurer.Measurement> ms = fw.options().measurer() instanceof RecordingMeasurer r
                ? r.measurements() : List.of();
        return new EmulationResult(h, p, fw.consoleText(), List.copyOf(fw.machine().trace()), ms,
                fw.runtime().variables().snapshot(), (System.nanoTime() - t0) / 1000);
    }

    /**
     * Builds the hand-off at the cut-over: the kernel file, the LoadOptions of its LoadedImage, and the initrd
     * from the LoadFile2 in place.
     */
    private static HandOff handOff(Firmware fw, ByteBuffer kernel, long loadedImage, String devicePath,
                                   LoadFile2Protocol hostInitrd, ByteBuffer payload) {
        String cmdline = fw.images().loadOptions(loadedImage);
        ByteBuffer initrd = ByteBuffer.allocate(0);
        byte[] initrdPath = DevicePath.of(List.of(DevicePath.vendorMedia(LoadFile2Protocol.LINUX_EFI_INITRD_MEDIA))).toBytes();
        long[] r = fw.protocols().locateDevicePath(LoadFile2Protocol.GUID, initrdPath);
        if (r != null && r[1] == initrdPath.length - 4) {
            long iface = fw.protocols().get(r[0], LoadFile2Protocol.GUID);
            if (hostInitrd != null && iface == hostInitrd.address()) {
                initrd = ByteBuffer.wrap(hostInitrd.data());
            } else {
                initrd = callLoadFile2(fw, iface, payload);
            }
        }
        // the kernel file (the loaded image's bytes, which never change: an array read from guest memory, or a view
        // of the payload's section it was loaded from) and the initrd (its own array, or the payload's section):
        // adopted, not copied again
        return HandOff.adopt(kernel, cmdline, initrd, devicePath, fw.consoleText(),
                fw.machine().trace(), fw.images().loadOptionsBytes(loadedImage));
    }

    /**
     * The Linux stub's sequence: LoadFile(size probe) → BUFFER_TOO_SMALL, then LoadFile into a buffer. What the
     * guest served is compared, piece by piece, with the payload's sections of its length: systemd-stub serves its
     * {@code .initrd} section unchanged, and then the hand-off shares the payload's bytes instead of a 50 MiB
     * copy out of guest memory. Anything else (initrds joined with generated ones) is copied out.
     */
    private static ByteBuffer callLoadFile2(Firmware fw, long iface, ByteBuffer payload) {
        GuestMemory m = fw.mem();
        long fn = m.u64(iface);
        long scratch = fw.allocator().allocatePages(MemoryType.BootServicesData, 1);
        if (scratch < 0) {
            throw new EmulationException("out of memory before the initrd host call");
        }
        long endNode = scratch;
        m.write(endNode, new byte[]{0x7F, (byte) 0xFF, 4, 0});
        long sizePtr = scratch + 16;
        m.putU64(sizePtr, 0);
        long st = fw.images().hostCall(fn, iface, endNode, 0, sizePtr, 0);
        if (st == EfiStatus.NOT_FOUND) {
            return ByteBuffer.allocate(0);
        }
        if (st != EfiStatus.BUFFER_TOO_SMALL) {
            throw new EmulationException("the payload's initrd LoadFile2 size probe returned " + EfiStatus.name(st));
        }
        long size = m.u64(sizePtr);
        if (size < 0 || size > Math.min(fw.memoryMap().freeBytes(), 1L << 30)) {
            throw new BadInputException("the payload's initrd LoadFile2 reports an impossible size " + size);
        }
        long pages = Math.max(1, (size + 4095) / 4096);
        long buf = fw.allocator().allocatePages(MemoryType.LoaderData, pages);
        if (buf < 0) {
            throw new EmulationException("out of memory for the initrd (" + size + " bytes)");
        }
        // the guest fills it: a copy of a payload section it still holds deferred then touches no memory
        m.zeroPages(buf, pages * 4096);
        st = fw.images().hostCall(fn, iface, endNode, 0, sizePtr, buf);
        if (st != EfiStatus.SUCCESS) {
            throw new EmulationException("the payload's initrd LoadFile2 returned " + EfiStatus.name(st));
        }
        long got = m.u64(sizePtr);
        if (got < 0 || got > size) {
            throw new EmulationException("the payload's initrd LoadFile2 returned " + got + " bytes after announcing " + size);
        }
        ByteBuffer same = payloadSectionEqualTo(m.bytes(buf, got), payload);
        return same != null ? same : ByteBuffer.wrap(m.read(buf, got));
    }

    /** Served initrds smaller than this are copied out of guest memory: cheaper than parsing the payload again. */
    static final long SHARE_AT_LEAST = 64 << 10;

    /**
     * The payload's section (its raw data, of VirtualSize or SizeOfRawData bytes) whose bytes equal the guest's,
     * as a read-only view of the payload array, or null. The payload array is never changed once the run starts.
     */
    static ByteBuffer payloadSectionEqualTo(GuestBytes guest, byte[] payload) {
        return payloadSectionEqualTo(guest, ByteBuffer.wrap(payload));
    }

    /** As {@link #payloadSectionEqualTo(GuestBytes, byte[])} for a payload held as a buffer (0 to its limit). */
    static ByteBuffer payloadSectionEqualTo(GuestBytes guest, ByteBuffer payload) {
        if (guest.length() < SHARE_AT_LEAST) return null;
        List<ByteBuffer> candidates = new ArrayList<>();
        int size = payload.limit();
        try {
            for (Section s : PeFile.parse(payload).sections()) {
                long start = s.pointerToRawData();
                long raw = Math.min(s.sizeOfRawData(), Math.max(0, size - start));
                long len = s.virtualSize() > 0 && s.virtualSize() < raw ? s.virtualSize() : raw;
                if (start < size && len == guest.length()) {
                    candidates.add(payload.slice((int) start, (int) len));
                }
            }
        } catch (BadInputException e) {
            return null; // not a PE file (a bare kernel, a test's bytes): nothing to share
        }
        if (candidates.isEmpty()) return null;
        List<ByteBuffer> all = List.copyOf(candidates);
        guest.forEachPiece(new DropDifferent(candidates));
        if (candidates.isEmpty()) return null;
        return candidates.get(0).rewind().asReadOnlyBuffer();
    }

    /**
     * Per piece of the guest's bytes, in order: drops the candidates whose next bytes differ (each candidate's
     * position follows the pieces). A named class, not a lambda: its class is then archived by name
     * (cli/cds-classes.txt) instead of spun at the cut-over of every boot.
     */
    private static final class DropDifferent implements java.util.function.Consumer<ByteBuffer> {
        private final List<ByteBuffer> candidates;

        DropDifferent(List<ByteBuffer> candidates) {
            this.candidates = candidates;
        }

        @Override
        public void accept(ByteBuffer p) {
            int n = p.remaining();
            for (java.util.Iterator<ByteBuffer> it = candidates.iterator(); it.hasNext(); ) {
                ByteBuffer c = it.next();
                boolean same = ByteViews.sameContent(c.slice(c.position(), n), p); // a deferred section: the same memory
                c.position(c.position() + n);
                if (!same) {
                    it.remove();
                }
            }
        }
    }
}
