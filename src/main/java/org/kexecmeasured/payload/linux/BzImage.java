package org.kexecmeasured.payload.linux;

import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.BadInputException;

import java.nio.ByteBuffer;

/**
 * The x86 Linux boot protocol setup header of a bzImage (Documentation/arch/x86/boot.rst),
 * read from the file at offset 0x1f1. Fields a given protocol version does not define read as
 * zero/absent. kernel_info (protocol 2.15+) is located at protected-mode start + kernel_info_offset.
 */
public record BzImage(
        int setupSects, int rootFlags, long sysSize, int vidMode, int rootDev, int bootFlag,
        int version, String kernelVersion, int typeOfLoader, int loadFlags, long code32Start,
        long initrdAddrMax, long kernelAlignment, boolean relocatableKernel, int minAlignment,
        int xloadFlags, long cmdlineSize, long hardwareSubarch, long payloadOffset, long payloadLength,
        long prefAddress, long initSize, long handoverOffset, long kernelInfoOffset,
        KernelInfo kernelInfo, long protectedModeOffset, String payloadCompression) {

    public static final int XLF_KERNEL_64 = 1;
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
    public static final int XLF_EFI_HANDOVER_32 = 1 << 2;
    public static final int XLF_EFI_HANDOVER_64 = 1 << 3;
    public static final int XLF_EFI_KEXEC = 1 << 4;
    public static final int XLF_5LEVEL = 1 << 5;
    public static final int XLF_5LEVEL_ENABLED = 1 << 6;
    public static final int XLF_MEM_ENCRYPTION = 1 << 7;

    public static final int LOADED_HIGH = 1;
    public static final int KASLR_FLAG = 1 << 1;
    public static final int QUIET_FLAG = 1 << 5;
    public static final int KEEP_SEGMENTS = 1 << 6;
    public static final int CAN_USE_HEAP = 1 << 7;

    /** kernel_info ("LToP"), protocol 2.15+. */
    public record KernelInfo(long size, long sizeTotal, long setupTypeMax) {
    }

    /** True when the file carries the boot sector flag 0xAA55 and the "HdrS" magic. */
    public static boolean looksLikeBzImage(byte[] b) {
        return looksLikeBzImage(ByteBuffer.wrap(b));
    }

    /** The same on a buffer holding the file (bytes 0 to its limit). */
    public static boolean looksLikeBzImage(ByteBuffer b) {
        return b.limit() >= 0x268 && Le.u16(b, 0x1fe) == 0xaa55 && Le.u32(b, 0x202) == 0x53726448L;
    }

    public static BzImage parse(byte[] b) {
        return parse(ByteBuffer.wrap(b));
    }

    /** Parses the header of the file held in the buffer (bytes 0 to its limit). */
    public static BzImage parse(ByteBuffer b) {
        if (!looksLikeBzImage(b)) {
            throw new BadInputException("bzImage: no boot flag 0xAA55 at 0x1fe and \"HdrS\" at 0x202");
        }
        int version = Le.u16(b, 0x206);
        int setupSects = Le.u8(b, 0x1f1);
        if (setupSects == 0) setupSects = 4; // boot.rst: 0 means 4
        long pm = (setupSects + 1L) * 512;
        if (pm > b.limit()) {
            throw new BadInputException(String.format("bzImage: setup_sects %d puts the protected-mode code at 0x%x, past the end of the file (%d bytes)",
                    setupSects, pm, b.limit()));
        }
        int kvPtr = Le.u16(b, 0x20e);
        String kernelVersion = kvPtr != 0 ? Le.cString(b, 0x200 + kvPtr, 256) : null;
        // fields beyond the header of this protocol version read as zero
        int hdrEnd = 0x202 + 2 + Le.u8(b, 0x201); // the jump at 0x200 skips the header
        java.util.function.IntPredicate in = off -> off < hdrEnd && off < b.limit();
        long payloadOffset = version >= 0x208 && in.test(0x24c) ? Le.u32(b, 0x248) : 0;
        long payloadLength = version >= 0x208 && in.test(0x250) ? Le.u32(b, 0x24c) : 0;
        long kernelInfoOffset = version >= 0x20f && in.test(0x26b) ? Le.u32(b, 0x268) : 0;
        KernelInfo ki = null;
        if (kernelInfoOffset != 0) {
            long at = pm + kernelInfoOffset;
            if (at + 16 <= b.limit() && Le.u32(b, (int) at) == 0x506f544cL) {
                ki = new KernelInfo(Le.u32(b, (int) at + 4), Le.u32(b, (int) at + 8),
                        Le.u32(b, (int) at + 12));
            } else {
                throw new BadInputException(String.format("bzImage: kernel_info_offset 0x%x does not point at a \"LToP\" kernel_info (file offset 0x%x)",
                        kernelInfoOffset, at));
            }
        }
        String comp = null;
        if (payloadLength != 0) {
            long at = pm + payloadOffset;
            if (at + payloadLength > b.limit()) {
                throw new BadInputException(String.format("bzImage: payload [0x%x, +0x%x) extends past the end of the file (%d bytes)",
                        at, payloadLength, b.limit()));
            }
            comp = Magic.compression(b, (int) at);
            if (comp == null) comp = "unknown";
        }
        return new BzImage(setupSects, Le.u16(b, 0x1f2), Le.u32(b, 0x1f4), Le.u16(b, 0x1fa), Le.u16(b, 0x1fc),
                Le.u16(b, 0x1fe), version, kernelVersion, Le.u8(b, 0x210), Le.u8(b, 0x211), Le.u32(b, 0x214),
                version >= 0x203 && in.test(0x22f) ? Le.u32(b, 0x22c) : 0,
                version >= 0x205 && in.test(0x233) ? Le.u32(b, 0x230) : 0,
                version >= 0x205 && in.test(0x234) && Le.u8(b, 0x234) != 0,
                version >= 0x20a && in.test(0x235) ? Le.u8(b, 0x235) : 0,
                version >= 0x20c && in.test(0x237) ? Le.u16(b, 0x236) : 0,
                version >= 0x206 && in.test(0x23b) ? Le.u32(b, 0x238) : 255,
                version >= 0x207 && in.test(0x23f) ? Le.u32(b, 0x23c) : 0,
                payloadOffset, payloadLength,
                version >= 0x20a && in.test(0x25f) ? Le.u64(b, 0x258) : 0,
                version >= 0x20a && in.test(0x263) ? Le.u32(b, 0x260) : 0,
                version >= 0x20b && in.test(0x267) ? Le.u32(b, 0x264) : 0,
                kernelInfoOffset, ki, pm, comp);
    }

    /** "2.15" */
    public String versionText() {
        return (version >> 8) + "." + (version & 0xff);
    }

    /** File offset of the compressed kernel payload (protected-mode start + payload_offset). */
    public long payloadFileOffset() {
        return protectedModeOffset + payloadOffset;
    }

    public String xloadFlagsText() {
        StringBuilder sb = new StringBuilder();
        String[] names = {"KERNEL_64", "CAN_BE_LOADED_ABOVE_4G", "EFI_HANDOVER_32", "EFI_HANDOVER_64", "EFI_KEXEC",
                "5LEVEL", "5LEVEL_ENABLED", "MEM_ENCRYPTION"};
        for (int i = 0; i < names.length; i++) {
            if ((xloadFlags & (1 << i)) != 0) sb.append(sb.length() > 0 ? "," : "").append(names[i]);
        }
        return sb.toString();
    }

    public String loadFlagsText() {
        StringBuilder sb = new StringBuilder();
        if ((loadFlags & LOADED_HIGH) != 0) sb.append("LOADED_HIGH");
        if ((loadFlags & KASLR_FLAG) != 0) sb.append(sb.length() > 0 ? "," : "").append("KASLR_FLAG");
        if ((loadFlags & QUIET_FLAG) != 0) sb.append(sb.length() > 0 ? "," : "").append("QUIET_FLAG");
        if ((loadFlags & KEEP_SEGMENTS) != 0) sb.append(sb.length() > 0 ? "," : "").append("KEEP_SEGMENTS");
        if ((loadFlags & CAN_USE_HEAP) != 0) sb.append(sb.length() > 0 ? "," : "").append("CAN_USE_HEAP");
        return sb.toString();
    }
}
