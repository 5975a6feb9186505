package org.kexecmeasured.uefi;

import org.kexecmeasured.efi.DevicePath;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.BaseRelocation;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.pe.Section;
import org.kexecmeasured.uefi.protocol.LoadedImageProtocol;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.HandleDatabase;
import org.kexecmeasured.uefi.spi.HostFileSystem;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Le;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Image Services (UEFI 2.10 §7.4): the PE/COFF loader (headers kept in memory, sections, base relocations)
 * and LoadImage, StartImage, Exit, UnloadImage with nesting, and ExitBootServices. Each loaded image gets its
 * EFI_LOADED_IMAGE_PROTOCOL and, with a device path, EFI_LOADED_IMAGE_DEVICE_PATH_PROTOCOL, as firmware's
 * core gives them. StartImage of a Linux EFI-stub kernel is the cut-over point unless the run is a full
 * emulation.
 */
public final class ImageServices {

    /** Largest image accepted from a buffer or file. */
    public static final long MAX_IMAGE = 512L << 20;
    /**
     * Total host bytes of image files held for loaded images (each Image keeps its file for the hand-off and
     * the measurements); LoadImage past it is OUT_OF_RESOURCES, so repeated loads cannot fill the host heap.
     */
    public static final long MAX_IMAGE_BYTES_HELD = 1L << 30;
    /** Largest allocated range copied into the post-ExitBootServices state (a Java array holds < 2 GiB). */
    public static final long MAX_CAPTURED_SEGMENT = 1L << 30;
    /** Largest total of allocated memory copied into the post-ExitBootServices state. */
    public static final long MAX_CAPTURED_TOTAL = 2L << 30;
    /** Images started within each other at most (StartImage past it is OUT_OF_RESOURCES). */
    public static final int MAX_NESTING = 16;

    /** A loaded image. */
    public static final class Image {
        public final long handle;
        public final String name;
        /**
         * The image file (read-only, never changed while the emulator runs: the mapped payload for the first image,
         * a view of the payload's section when guest memory still held it as placed at LoadImage, else the
         * loader's own copy of the source).
         */
        public final ByteBuffer data;
        public final long base;
        public final long size;
        public final long entry;
        public final boolean linux;
        public final long loadedImage;
        public final long devicePathAddress;
        boolean started;

        Image(long handle, String name, ByteBuffer data, long base, long size, long entry, boolean linux,
              long loadedImage, long devicePathAddress) {
            this.handle = handle;
            this.name = name;
            this.data = data;
            this.base = base;
            this.size = size;
            this.entry = entry;
            this.linux = linux;
            this.loadedImage = loadedImage;
            this.devicePathAddress = devicePathAddress;
        }
    }

    /** The bytes of {@code b} (all of it, from 0): its backing array when it wraps one whole, else a copy. */
    static byte[] array(ByteBuffer b) {
        if (b.hasArray() && b.arrayOffset() == 0 && b.position() == 0 && b.limit() == b.array().length) {
            return b.array();
        }
        byte[] a = new byte[b.limit()];
        b.duplicate().position(0).get(a);
        return a;
    }

    /** Caller state saved by StartImage, restored when the image returns or calls Exit. */
    private record Frame(Image image, long rsp, long returnAddress, long[] gprs, byte[][] xmm) {
    }

    private static final Cpu.Reg[] CALLEE_SAVED = {Cpu.Reg.RBX, Cpu.Reg.RBP, Cpu.Reg.RDI, Cpu.Reg.RSI,
        Cpu.Reg.R12, Cpu.Reg.R13, Cpu.Reg.R14, Cpu.Reg.R15};

    private final Firmware fw;
    private final GuestMemory mem;
    private final Map<Long, Image> images = new LinkedHashMap<>();
    private final Deque<Frame> frames = new ArrayDeque<>();
    private final Map<Long, HostFileSystem> fileSystems = new HashMap<>();
    private final long imageReturnSlot;
    private final long topReturnSlot;
    private final long hostReturnSlot;

    private Image cutover;
    private Long topStatus;
    private boolean hostReturned;
    private PostEbsState postEbs;
    private long imageBytesHeld;

    ImageServices(Firmware fw) {
        this.fw = fw;
        this.mem = fw.mem();
        Machine mc = fw.machine();
        // three internal return addresses: not services a payload calls, so not traced
        imageReturnSlot = mc.slot("<image returned>", c -> {
            imageReturned(fw.machine().cpu().reg(Cpu.Reg.RAX));
            c.redirected();
            return 0;
        }, false);
        topReturnSlot = mc.slot("<first image returned>", c -> {
            topStatus = fw.machine().cpu().reg(Cpu.Reg.RAX);
            fw.machine().cpu().stop();
            c.redirected();
            return 0;
        }, false);
        hostReturnSlot = mc.slot("<host call returned>", c -> {
            hostReturned = true;
            fw.machine().cpu().stop();
            c.redirected();
            return 0;
        }, false);
    }

    public void addFileSystem(long handle, HostFileSystem fs) {
        fileSystems.put(handle, fs);
    }

    /** The file system LoadImage reads on {@code handle}, or null. */
    HostFileSystem fileSystem(long handle) {
        return fileSystems.get(handle);
    }

    public Image get(long handle) {
        return images.get(handle);
    }

    public List<Image> all() {
        return new ArrayList<>(images.values());
    }

    public Image cutover() {
        return cutover;
    }

    public Long topStatus() {
        return topStatus;
    }

    public PostEbsState postEbs() {
        return postEbs;
    }

    /** "name+0xoffset" for an address inside a loaded image or the trap page, else null. */
    public String describe(long address) {
        for (Image i : images.values()) {
            if (address >= i.base && address < i.base + i.size) {
                return i.name + "+0x" + Long.toHexString(address - i.base);
            }
        }
        if (fw.machine().isTrap(address)) {
            String n = fw.machine().slotName(address);
            return "firmware trap " + (n == null ? "(unassigned)" : n);
        }
        return null;
    }

    /** True for a bzImage with an EFI stub: "MZ" and the "HdrS" setup header magic at 0x202. */
    /**
     * A Linux kernel whose setup header (boot protocol 2.12 or later) sets XLF_EFI_KEXEC in xloadflags: "supports
     * kexec EFI boot with EFI runtime support" (Documentation/arch/x86/boot.rst; arch/x86/boot/header.S sets it for
     * x86_64 kernels with the EFI stub and kexec). Such a kernel is resumed at its stub's jump into the kernel, with
     * SETUP_EFI. memtest86+ also carries a "HdrS" header (for legacy loaders) but not this flag.
     */
    public static boolean acceptsEfiKexec(byte[] b) {
        return isLinuxKernel(b) && b.length > 0x238 && (Le.u16(b, 0x206) >= 0x20c) && (Le.u16(b, 0x236) & 0x10) != 0;
    }

    /** {@link #acceptsEfiKexec(byte[])} on the header of an image file held as a buffer. */
    static boolean acceptsEfiKexec(ByteBuffer b) {
        return acceptsEfiKexec(head(b, 0x240));
    }

    /** The first {@code n} bytes of {@code b} (fewer when it is shorter). */
    static byte[] head(ByteBuffer b, int n) {
        byte[] h = new byte[Math.min(n, b.limit())];
        b.duplicate().position(0).get(h);
        return h;
    }

    public static boolean isLinuxKernel(byte[] b) {
        return b.length > 0x206 && b[0] == 'M' && b[1] == 'Z' && b[0x202] == 'H' && b[0x203] == 'd'
                && b[0x204] == 'r' && b[0x205] == 'S';
    }

    /**
     * Loads a PE32+ x86_64 EFI image into guest memory and installs its LoadedImage protocols.
     *
     * @throws BadInputException if the image is not a loadable x86_64 EFI image
     */
    public Image load(byte[] file, String name, long parent, long deviceHandle, byte[] filePath) {
        return load(ByteBuffer.wrap(file), name, parent, deviceHandle, filePath);
    }

    /**
     * As {@link #load(byte[], String, long, long, byte[])} for an image file held as a buffer (position 0 to its
     * limit; a mapped payload): its sections reach guest memory as slices of it, so it must not change while the
     * emulator runs.
     */
    public Image load(ByteBuffer image, String name, long parent, long deviceHandle, byte[] filePath) {
        ByteBuffer file = image.duplicate().position(0).slice(); // never written: a byte[] stays reachable as itself
        int length = file.limit();
        if (length > MAX_IMAGE) {
            throw new BadInputException(name + ": image of " + length + " bytes is too large");
        }
        PeFile pe = PeFile.parse(file);
        // the file must be hashable as Authenticode (what PCR 4 records) before anything of it is loaded:
        // PeFile.parse leaves the certificate table to Authenticode, so the two could disagree
        Authenticode.hashedRanges(pe);
        if (pe.machine() != PeFile.IMAGE_FILE_MACHINE_AMD64) {
            throw new BadInputException(name + ": machine " + pe.machineName() + " is not x86_64");
        }
        int sub = pe.subsystem();
        if (sub < 10 || sub > 12) {
            throw new BadInputException(name + ": subsystem " + sub + " is not an EFI application or driver");
        }
        long size = pe.sizeOfImage();
        if (size <= 0 || size > MAX_IMAGE || pe.sizeOfHeaders() > size) {
            throw new BadInputException(name + ": SizeOfImage 0x" + Long.toHexString(size) + " is not loadable");
        }
        if (pe.addressOfEntryPoint() >= size) {
            throw new BadInputException(name + ": entry point outside the image");
        }
        MemoryType code = sub == 10 ? MemoryType.LoaderCode
                : sub == 11 ? MemoryType.BootServicesCode : MemoryType.RuntimeServicesCode;
        MemoryType data = sub == 10 ? MemoryType.LoaderData
                : sub == 11 ? MemoryType.BootServicesData : MemoryType.RuntimeServicesData;
        long pages = (size + MemoryMap.PAGE - 1) / MemoryMap.PAGE;
        long base = -1;
        long pref = pe.imageBase();
        if (pref > 0 && pref % MemoryMap.PAGE == 0 && pref + size <= fw.machine().ramSize()) {
            base = fw.memoryMap().allocate(MemoryMap.AllocateType.Address, code, pages, pref);
        }
        if (base < 0) {
            base = fw.memoryMap().allocate(MemoryMap.AllocateType.AnyPages, code, pages, 0);
        }
        if (base < 0) {
            throw new EmulationException(name + ": out of memory for an image of 0x" + Long.toHexString(size) + " bytes");
        }
        java.util.BitSet reused = fw.memoryMap().lastAllocationReusedPages();
        long handle = 0;
        boolean registered = false;
        try {
            // {rva, length, file offset}; a piece's bytes are copied out of the file only when a relocation
            // patches it (contents null until then): a UKI's 100 MiB .initrd goes from the file to guest RAM
            List<long[]> pieces = new ArrayList<>();
            List<byte[]> contents = new ArrayList<>();
            int hdr = (int) Math.min(pe.sizeOfHeaders(), length);
            pieces.add(new long[]{0, hdr, 0});
            contents.add(null);
            for (Section s : pe.sections()) {
                // the raw data clipped to the file, as PeFile.sectionData
                long start = Math.min(s.pointerToRawData(), length);
                long raw = s.sizeOfRawData() == 0 ? 0 : Math.min(start + s.sizeOfRawData(), length) - start;
                long n = s.virtualSize() == 0 ? raw : Math.min(raw, s.virtualSize());
                if (s.virtualAddress() + n > size || s.virtualAddress() < 0) {
                    throw new BadInputException(name + ": section " + s.name() + " lies outside SizeOfImage");
                }
                pieces.add(new long[]{s.virtualAddress(), n, start});
                contents.add(null);
            }
            long delta = base - pref;
            if (delta != 0) {
                for (BaseRelocation r : pe.baseRelocations()) {
                    long rva = r.rva();
                    int width = r.type() == BaseRelocation.IMAGE_REL_BASED_DIR64 ? 8
                            : r.type() == BaseRelocation.IMAGE_REL_BASED_HIGHLOW ? 4 : 0;
                    if (width == 0) {
                        throw new BadInputException(name + ": unsupported relocation type " + BaseRelocation.typeName(r.type()));
                    }
                    if (rva < 0 || rva + width > size) {
                        throw new BadInputException(name + ": relocation at 0x" + Long.toHexString(rva) + " outside the image");
                    }
                    relocate(file, pieces, contents, rva, width, delta);
                }
            }
            byte[] full = filePath;
            if (deviceHandle != 0 && filePath != null) {
                byte[] dev = fw.protocols().devicePathOf(deviceHandle);
                if (dev != null) {
                    full = new byte[dev.length + filePath.length];
                    System.arraycopy(dev, 0, full, 0, dev.length);
                    System.arraycopy(filePath, 0, full, dev.length, filePath.length);
                }
            }
            // measure (PCR 4) before the image exists for the guest: if measuring fails, nothing is loaded
            fw.options().measurer().imageLoaded(file, base, size, pref, full == null ? new byte[0] : full, parent == 0);

            // Fresh guest RAM is zero: clear only reused pages, then write headers and sections with their
            // relocations applied (no full-size host copy of sparse images such as a 48 MiB UKI).
            for (int i = reused.nextSetBit(0); i >= 0; ) {
                int j = reused.nextClearBit(i);
                mem.fill(base + i * MemoryMap.PAGE, (j - i) * MemoryMap.PAGE, (byte) 0);
                i = reused.nextSetBit(j);
            }
            for (int i = 0; i < pieces.size(); i++) {
                long[] p = pieces.get(i);
                if (contents.get(i) == null) {
                    // the file's own bytes, unchanged for the run: the memory may defer copying large sections
                    // until the guest touches them (the host reads them from the file)
                    mem.place(base + p[0], file.slice((int) p[2], (int) p[1]));
                } else {
                    mem.write(base + p[0], contents.get(i));
                }
            }
            long fp = filePath == null ? 0 : fw.machine().fwCopy(filePath);
            handle = fw.protocols().newHandle();
            long li = LoadedImageProtocol.create(mem, fw.allocator(), fw.systemTable(), parent, deviceHandle, fp, base,
                    size, code.ordinal(), data.ordinal());
            fw.protocols().install(handle, LoadedImageProtocol.GUID, li);
            long dpa = 0;
            if (full != null) {
                dpa = fw.machine().fwCopy(full);
                fw.protocols().install(handle, LoadedImageProtocol.DEVICE_PATH_GUID, dpa);
            }
            Image im = new Image(handle, name, file, base, size, base + pe.addressOfEntryPoint(),
                    isLinuxKernel(head(file, 0x240)), li, dpa);
            images.put(handle, im);
            imageBytesHeld += length;
            registered = true;
            fw.kernelEntries().imageLoaded(pe); // a kernel inside it may be started without StartImage
            return im;
        } finally {
            if (!registered) {
                if (handle != 0) {
                    fw.protocols().removeHandle(handle);
                }
                fw.memoryMap().free(base, pages);
            }
        }
    }

    /** Adds {@code delta} to the {@code width}-byte field at {@code rva}, in the piece holding it. */
    private static void relocate(ByteBuffer file, List<long[]> pieces, List<byte[]> data, long rva, int width, long delta) {
        for (int i = pieces.size() - 1; i >= 0; i--) {
            long[] p = pieces.get(i);
            if (rva >= p[0] && rva + width <= p[0] + p[1]) {
                byte[] b = data.get(i);
                if (b == null) { // first relocation in this piece: from now on it is a patched copy
                    b = new byte[(int) p[1]];
                    file.get((int) p[2], b);
                    data.set(i, b);
                }
                int o = (int) (rva - p[0]);
                long v = 0;
                for (int k = width - 1; k >= 0; k--) {
                    v = (v << 8) | (b[o + k] & 0xff);
                }
                v += delta;
                for (int k = 0; k < width; k++) {
                    b[o + k] = (byte) (v >>> (8 * k));
                }
                return;
            }
        }
        // a field in zero-filled space (beyond a section's raw data) holds 0, so its relocated value is delta
        byte[] v = new byte[width];
        for (int k = 0; k < width; k++) {
            v[k] = (byte) (delta >>> (8 * k));
        }
        pieces.add(new long[]{rva, width, -1});
        data.add(v);
    }

    /** Sets LoadOptions of an image to the UCS-2 form of {@code text} (NUL-terminated). */
    public void setLoadOptions(Image im, String text) {
        byte[] b = (text + "\0").getBytes(StandardCharsets.UTF_16LE);
        long a = fw.machine().fwCopy(b);
        mem.putU32(im.loadedImage + LoadedImageProtocol.OFF_LOAD_OPTIONS_SIZE, b.length);
        mem.putU64(im.loadedImage + LoadedImageProtocol.OFF_LOAD_OPTIONS, a);
    }

    /** The LoadOptions of an image decoded as UCS-2 text without the trailing NUL(s). */
    public String loadOptions(Image im) {
        return loadOptions(im.loadedImage);
    }

    /** The LoadOptions of the EFI_LOADED_IMAGE_PROTOCOL at {@code loadedImage} as text. */
    public String loadOptions(long loadedImage) {
        long size = mem.u32(loadedImage + LoadedImageProtocol.OFF_LOAD_OPTIONS_SIZE);
        long p = mem.u64(loadedImage + LoadedImageProtocol.OFF_LOAD_OPTIONS);
        if (p == 0 || size == 0) {
            return "";
        }
        byte[] b = mem.read(p, (int) Math.min(size, 1 << 20) & ~1);
        String s = new String(b, StandardCharsets.UTF_16LE);
        int nul = s.indexOf('\0');
        return nul >= 0 ? s.substring(0, nul) : s;
    }

    /** The raw LoadOptions of an image (LoadOptionsSize bytes, at most 1 MiB), or none. */
    public byte[] loadOptionsBytes(Image im) {
        return loadOptionsBytes(im.loadedImage);
    }

    /** The raw LoadOptions of the EFI_LOADED_IMAGE_PROTOCOL at {@code loadedImage}. */
    public byte[] loadOptionsBytes(long loadedImage) {
        long size = mem.u32(loadedImage + LoadedImageProtocol.OFF_LOAD_OPTIONS_SIZE);
        long p = mem.u64(loadedImage + LoadedImageProtocol.OFF_LOAD_OPTIONS);
        if (p == 0 || size == 0) {
            return new byte[0];
        }
        return mem.read(p, (int) Math.min(size, 1 << 20));
    }

    /** Text of an image's LoadedImageDevicePath, or "". */
    public String devicePathText(Image im) {
        if (im.devicePathAddress == 0) {
            return "";
        }
        return DevicePath.parse(mem.devicePath(im.devicePathAddress)).toText();
    }

    // ---------------------------------------------------------------- starting and returning

    /** Prepares CPU state to start the first image as if the firmware's boot manager called StartImage. */
    public long startFirst(Image im) {
        Cpu cpu = fw.machine().cpu();
        long top = fw.machine().stackTop() - 0x40;
        mem.putU64(top, topReturnSlot);
        cpu.setReg(Cpu.Reg.RSP, top);
        frames.push(saveFrame(im, top, topReturnSlot));
        // the frame's RSP is as a caller's before "ret": unwinding sets RSP = rsp + 8
        return enter(im, top - 0x100);
    }

    private Frame saveFrame(Image im, long rsp, long ret) {
        Cpu cpu = fw.machine().cpu();
        long[] g = new long[CALLEE_SAVED.length];
        for (int i = 0; i < g.length; i++) {
            g[i] = cpu.reg(CALLEE_SAVED[i]);
        }
        byte[][] x = new byte[10][];
        for (int i = 0; i < 10; i++) {
            x[i] = cpu.xmm(6 + i);
        }
        return new Frame(im, rsp, ret, g, x);
    }

    /** Points the CPU at the image's entry with a fresh frame below {@code below}; returns the entry. */
    private long enter(Image im, long below) {
        Cpu cpu = fw.machine().cpu();
        im.started = true;
        long base = (below - 0x40) & ~0xFL;
        mem.putU64(base - 8, imageReturnSlot);
        cpu.setReg(Cpu.Reg.RSP, base - 8);
        cpu.setReg(Cpu.Reg.RCX, im.handle);
        cpu.setReg(Cpu.Reg.RDX, fw.systemTable());
        cpu.setReg(Cpu.Reg.RIP, im.entry);
        return im.entry;
    }

    private void imageReturned(long status) {
        if (frames.isEmpty()) {
            fw.machine().fail("an image returned but no image was started");
            return;
        }
        unwind(frames.pop(), status);
    }

    private void unwind(Frame f, long status) {
        Cpu cpu = fw.machine().cpu();
        for (int i = 0; i < CALLEE_SAVED.length; i++) {
            cpu.setReg(CALLEE_SAVED[i], f.gprs[i]);
        }
        for (int i = 0; i < 10; i++) {
            cpu.setXmm(6 + i, f.xmm[i]);
        }
        cpu.setReg(Cpu.Reg.RSP, f.rsp + 8);
        cpu.setReg(Cpu.Reg.RAX, status);
        cpu.setReg(Cpu.Reg.RIP, f.returnAddress);
    }

    /**
     * Calls a guest function from the host (MS x64 ABI) while the guest is stopped, e.g. the payload's own
     * LoadFile2 at the cut-over. Returns RAX.
     */
    public long hostCall(long function, long... args) {
        Cpu cpu = fw.machine().cpu();
        long rsp = cpu.reg(Cpu.Reg.RSP);
        long base = ((rsp - 0x4000) & ~0xFL) - 8L * Math.max(0, args.length - 4) - 0x20;
        base &= ~0xFL;
        for (int i = 4; i < args.length; i++) {
            mem.putU64(base + 0x20 + 8L * (i - 4), args[i]);
        }
        mem.putU64(base - 8, hostReturnSlot);
        cpu.setReg(Cpu.Reg.RSP, base - 8);
        Cpu.Reg[] regs = {Cpu.Reg.RCX, Cpu.Reg.RDX, Cpu.Reg.R8, Cpu.Reg.R9};
        for (int i = 0; i < Math.min(4, args.length); i++) {
            cpu.setReg(regs[i], args[i]);
        }
        hostReturned = false;
        fw.run(function);
        if (!hostReturned) {
            throw new EmulationException(fw.report("host call of guest function 0x" + Long.toHexString(function)
                    + " did not return", cpu.reg(Cpu.Reg.RIP), -1));
        }
        return cpu.reg(Cpu.Reg.RAX);
    }

    /**
     * After ExitBootServices: at the cut-over, when the payload measured a Linux kernel, stop where it enters that
     * kernel through the boot protocol ({@link BootProtocolWatch}: GRUB's legacy linux loader); otherwise stop at
     * the first block outside the image that called it (the kernel jump of a full emulation) and capture the state.
     */
    private void onExitBootServices(long imageHandle) {
        Cpu cpu = fw.machine().cpu();
        BootProtocolWatch watch = fw.bootProtocol();
        if (!fw.options().fullEmulation() && watch.hasCandidates()) {
            cpu.setBlockHandler((address, size) -> {
                if (fw.machine().isTrap(address)) {
                    return;
                }
                try {
                    if (watch.block(cpu, address)) {
                        cpu.stop();
                    }
                } catch (EmulationException e) {
                    fw.machine().fail(e.getMessage());
                }
            });
            return;
        }
        Image caller = images.get(imageHandle);
        List<MemoryMap.Region> mapAtEbs = fw.memoryMap().regions();
        // resume capture stops where ExitBootServices returns, except in a Linux kernel's EFI stub: it fills
        // boot_params after ExitBootServices (setup_e820), so its state is taken at its jump into the kernel
        boolean atReturn = fw.options().stopAtExitBootServices() && (caller == null || !acceptsEfiKexec(caller.data));
        cpu.setBlockHandler((address, size) -> {
            if (!atReturn && caller != null && address >= caller.base && address < caller.base + caller.size) {
                return;
            }
            if (fw.machine().isTrap(address)) {
                return;
            }
            try {
                Map<String, Long> regs = new LinkedHashMap<>();
                for (Cpu.Reg r : Cpu.Reg.values()) {
                    regs.put(r.name(), cpu.reg(r));
                }
                regs.put("RIP", address);
                List<PostEbsState.Segment> segs = new ArrayList<>();
                long total = 0;
                for (MemoryMap.Region r : mapAtEbs) {
                    if (atReturn ? capturedForResume(r) : capturedAtKernelJump(r)) {
                        {
                            long len = r.end() - r.start();
                            if (len > MAX_CAPTURED_SEGMENT || total + len > MAX_CAPTURED_TOTAL) {
                                fw.machine().fail("capturing the post-ExitBootServices state: " + r.type()
                                        + " range 0x" + Long.toHexString(r.start()) + "-0x" + Long.toHexString(r.end())
                                        + " (" + len + " bytes) is too large to capture (at most "
                                        + (MAX_CAPTURED_SEGMENT >> 20) + " MiB per range, "
                                        + (MAX_CAPTURED_TOTAL >> 20) + " MiB in all)");
                                return;
                            }
                            byte[] d = new byte[(int) len];
                            mem.read(r.start(), d, 0, d.length); // the CPU side copies in bounded chunks
                            segs.add(new PostEbsState.Segment(r.start(), r.type(), d));
                            total += len;
                        }
                    }
                }
                postEbs = new PostEbsState(atReturn ? PostEbsState.Point.EXIT_BOOT_SERVICES_RETURN
                        : PostEbsState.Point.KERNEL_ENTRY, address, cpu.reg(Cpu.Reg.RSI), regs, segs, mapAtEbs);
            } catch (Throwable e) {
                fw.machine().fail("capturing the post-ExitBootServices state: " + e);
                return;
            }
            cpu.stop();
        });
    }

    /** At the kernel jump: what the kernel keeps (loader and runtime memory, ACPI), not boot services memory. */
    private static boolean capturedAtKernelJump(MemoryMap.Region r) {
        return switch (r.type()) {
            case LoaderCode, LoaderData, ACPIReclaimMemory, ACPIMemoryNVS, RuntimeServicesCode, RuntimeServicesData -> true;
            default -> false;
        };
    }

    /**
     * At the return from ExitBootServices (resume capture): every range the payload may still touch, boot services
     * memory included (its stack, the system table and its config tables, the firmware's page tables); free memory,
     * the reserved page 0 and I/O ranges are left out.
     */
    private static boolean capturedForResume(MemoryMap.Region r) {
        return switch (r.type()) {
            case LoaderCode, LoaderData, BootServicesCode, BootServicesData, RuntimeServicesCode, RuntimeServicesData,
                 ACPIReclaimMemory, ACPIMemoryNVS -> true;
            default -> false;
        };
    }

    // ---------------------------------------------------------------- Image Services

    /**
     * LoadImage(BootPolicy, ParentImageHandle, DevicePath, SourceBuffer, SourceSize, *ImageHandle): from the
     * buffer, or from a file of a simple file system the device path names.
     */
    long loadImage(Call c) {
        long parent = c.arg(1);
        long dpPtr = c.arg(2);
        long src = c.arg(3);
        long srcSize = c.arg(4);
        long out = c.arg(5);
        if (out == 0 || images.get(parent) == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        byte[] dp = dpPtr == 0 ? null : mem.devicePath(dpPtr);
        ByteBuffer file;
        long deviceHandle = 0;
        byte[] filePath = dp;
        String name;
        if (src != 0) {
            if (Long.compareUnsigned(srcSize, MAX_IMAGE) > 0 || srcSize > fw.memoryMap().freeBytes()) { // UINTN
                return EfiStatus.LOAD_ERROR;
            }
            if (srcSize > MAX_IMAGE_BYTES_HELD - imageBytesHeld) {
                return EfiStatus.OUT_OF_RESOURCES;
            }
            // a source whose every byte guest memory still holds as placed from the payload (systemd-stub 252 loads
            // its .linux section in place, after reading its header) is loaded from the payload's own bytes, not
            // from a copy out of guest memory; a source the guest changed is copied out of guest memory
            // (GuestMemory.placedContent compares: it never assumes)
            ByteBuffer placed = mem.placedContent(src, srcSize);
            file = placed != null ? placed : ByteBuffer.wrap(mem.read(src, srcSize));
            if (dp != null) {
                long[] r = fw.protocols().locateDevicePath(HandleDatabase.DEVICE_PATH, dp);
                if (r != null) {
                    deviceHandle = r[0];
                    filePath = java.util.Arrays.copyOfRange(dp, (int) r[1], dp.length);
                }
            }
            name = dp == null ? "image@0x" + Long.toHexString(src) : DevicePath.parse(dp).toText();
        } else {
            if (dp == null) {
                return EfiStatus.INVALID_PARAMETER;
            }
            long[] r = fw.protocols().locateDevicePath(SimpleFileSystemProtocol.GUID, dp);
            if (r == null || !fileSystems.containsKey(r[0])) {
                return EfiStatus.NOT_FOUND;
            }
            deviceHandle = r[0];
            filePath = java.util.Arrays.copyOfRange(dp, (int) r[1], dp.length);
            String path = DevicePath.parse(filePath).filePathText();
            if (path == null) {
                return EfiStatus.NOT_FOUND;
            }
            byte[] read;
            try {
                read = fileSystems.get(r[0]).readFile(path, Math.min(MAX_IMAGE, MAX_IMAGE_BYTES_HELD - imageBytesHeld));
            } catch (BadInputException e) {
                return EfiStatus.OUT_OF_RESOURCES; // larger than an image may be, or than the budget left
            }
            if (read == null) {
                return EfiStatus.NOT_FOUND;
            }
            file = ByteBuffer.wrap(read);
            name = path;
        }
        Image im;
        try {
            im = load(file, name, parent, deviceHandle, filePath);
        } catch (BadInputException e) {
            return EfiStatus.LOAD_ERROR;
        }
        mem.putU64(out, im.handle);
        return EfiStatus.SUCCESS;
    }

    /**
     * StartImage(ImageHandle, *ExitDataSize, **ExitData): enters the image on the caller's stack; its return
     * or Exit resumes the caller. For a Linux kernel (not in full emulation) this is the cut-over: the run stops.
     */
    long startImage(Call c) {
        Image im = images.get(c.arg(0));
        if (im == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (im.started) {
            return EfiStatus.ALREADY_STARTED;
        }
        if (im.linux && !fw.options().fullEmulation()) {
            cutover = im;
            fw.machine().cpu().stop();
            c.redirected();
            return 0;
        }
        if (frames.size() >= MAX_NESTING) {
            return EfiStatus.OUT_OF_RESOURCES;
        }
        frames.push(saveFrame(im, c.rsp(), c.returnAddress()));
        enter(im, c.rsp() - 0x100);
        c.redirected();
        return 0;
    }

    /** Exit(ImageHandle, ExitStatus, ExitDataSize, *ExitData): unwinds to the StartImage that started it. */
    long exit(Call c) {
        Image im = images.get(c.arg(0));
        long status = c.arg(1);
        if (im == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (!im.started) {
            unload(im);
            return EfiStatus.SUCCESS;
        }
        boolean found = frames.stream().anyMatch(f -> f.image == im);
        if (!found) {
            return EfiStatus.INVALID_PARAMETER;
        }
        Frame f;
        do {
            f = frames.pop();
        } while (f.image != im);
        unwind(f, status);
        c.redirected();
        return 0;
    }

    /** UnloadImage(ImageHandle): only images not started (a started image would have to provide Unload). */
    long unloadImage(Call c) {
        Image im = images.get(c.arg(0));
        if (im == null) {
            return EfiStatus.INVALID_PARAMETER;
        }
        if (im.started) {
            return EfiStatus.UNSUPPORTED;
        }
        unload(im);
        return EfiStatus.SUCCESS;
    }

    /**
     * ExitBootServices(ImageHandle, MapKey): a stale map key fails (and is measured as "Returned with Failure");
     * otherwise, in full emulation, the run stops at the first block outside the calling image.
     */
    long exitBootServices(Call c) {
        long imageHandle = c.arg(0);
        long mapKey = c.arg(1);
        if (mapKey != fw.memoryMap().mapKey()) {
            fw.options().measurer().exitBootServices(false);
            return EfiStatus.INVALID_PARAMETER;
        }
        fw.options().measurer().exitBootServices(true);
        onExitBootServices(imageHandle);
        return EfiStatus.SUCCESS;
    }

    private void unload(Image im) {
        if (images.remove(im.handle) != null) {
            imageBytesHeld -= im.data.limit();
        }
        fw.memoryMap().free(im.base, (im.size + MemoryMap.PAGE - 1) / MemoryMap.PAGE);
        fw.protocols().removeHandle(im.handle);
    }
}
