package org.kexecmeasured.uefi.protocol;

import org.kexecmeasured.efi.Guid;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;

/**
 * EFI_GRAPHICS_OUTPUT_PROTOCOL (UEFI 2.10 §12.9) with one mode: 640×480, PixelBlueGreenRedReserved8BitPerColor,
 * over a linear frame buffer in emulated RAM (boot services data: nothing displays it). Offered in resume capture
 * only, for payloads that refuse to run without a GOP (memtest86+'s efi_setup fails "set_screen_info()"
 * otherwise): after the resume the payload draws into that RAM and writes its text to the serial console.
 * QueryMode answers mode 0; SetMode accepts mode 0; Blt is UNSUPPORTED (the frame buffer is the interface).
 */
public final class GraphicsOutputProtocol {

    public static final Guid GUID = Guid.parse("9042a9de-23dc-4a38-96fb-7aded080516a");
    public static final int WIDTH = 640, HEIGHT = 480;
    /** EFI_GRAPHICS_PIXEL_FORMAT PixelBlueGreenRedReserved8BitPerColor. */
    public static final int PIXEL_BGRX = 1;
    /** EFI_GRAPHICS_OUTPUT_MODE_INFORMATION: Version, H, V, PixelFormat, PixelInformation[4], PixelsPerScanLine. */
    static final int INFO_SIZE = 36;
    /** EFI_GRAPHICS_OUTPUT_PROTOCOL_MODE: MaxMode, Mode, *Info, SizeOfInfo, FrameBufferBase, FrameBufferSize. */
    static final int MODE_SIZE = 40;

    private final long address;
    private final long frameBuffer;

    /** Builds the protocol and installs it on {@code handle} (the console's, as EDK2's ConOut device has it). */
    public GraphicsOutputProtocol(ProtocolContext ctx, long handle) {
        GuestMemory m = ctx.mem();
        long fbSize = (long) WIDTH * HEIGHT * 4;
        frameBuffer = ctx.allocator().allocatePages(MemoryType.BootServicesData, fbSize / 4096);
        if (frameBuffer < 0) {
            throw new IllegalStateException("no memory for the GOP frame buffer");
        }
        long info = ctx.allocator().firmwareAlloc(INFO_SIZE);
        m.putU32(info, 0);
        m.putU32(info + 4, WIDTH);
        m.putU32(info + 8, HEIGHT);
        m.putU32(info + 12, PIXEL_BGRX);
        m.putU32(info + 32, WIDTH);
        long mode = ctx.allocator().firmwareAlloc(MODE_SIZE);
        m.putU32(mode, 1);
        m.putU32(mode + 4, 0);
        m.putU64(mode + 8, info);
        m.putU64(mode + 16, INFO_SIZE);
        m.putU64(mode + 24, frameBuffer);
        m.putU64(mode + 32, fbSize);
        Service queryMode = c -> { // QueryMode(This, ModeNumber, *SizeOfInfo, **Info)
            if (c.arg(1) != 0) return EfiStatus.INVALID_PARAMETER;
            if (c.arg(2) == 0 || c.arg(3) == 0) return EfiStatus.INVALID_PARAMETER;
            long copy = ctx.allocator().allocatePool(MemoryType.BootServicesData, INFO_SIZE);
            if (copy < 0) return EfiStatus.OUT_OF_RESOURCES;
            m.write(copy, m.read(info, INFO_SIZE));
            m.putU64(c.arg(2), INFO_SIZE);
            m.putU64(c.arg(3), copy);
            return EfiStatus.SUCCESS;
        };
        Service setMode = c -> c.arg(1) == 0 ? EfiStatus.SUCCESS : EfiStatus.UNSUPPORTED; // SetMode(This, ModeNumber)
        Service blt = c -> EfiStatus.UNSUPPORTED;
        address = ProtocolTable.build(ctx, "Gop", new String[]{"QueryMode", "SetMode", "Blt"},
                new Service[]{queryMode, setMode, blt}, 32);
        m.putU64(address + 24, mode);
        ctx.handles().install(handle, GUID, address);
    }

    public long address() {
        return address;
    }

    public long frameBuffer() {
        return frameBuffer;
    }
}
