package org.kexecmeasured.payload.linux;

import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.BadInputException;

import java.nio.ByteBuffer;

/**
 * The arm64 kernel Image header (Documentation/arch/arm64/booting.rst): 64 bytes at offset 0,
 * magic "ARM\x64" at 0x38, and in EFI-stub kernels the PE header offset at 0x3c.
 */
public record Arm64Image(long code0, long code1, long textOffset, long imageSize, long flags, long peHeaderOffset) {

    public static final long MAGIC = 0x644d5241L;

    public static boolean looksLikeArm64Image(byte[] b) {
        return looksLikeArm64Image(ByteBuffer.wrap(b));
    }

    public static boolean looksLikeArm64Image(ByteBuffer b) {
        return b.limit() >= 64 && Le.u32(b, 0x38) == MAGIC;
    }

    public static Arm64Image parse(byte[] b) {
        return parse(ByteBuffer.wrap(b));
    }

    public static Arm64Image parse(ByteBuffer b) {
        if (!looksLikeArm64Image(b)) throw new BadInputException("arm64 Image: no \"ARM\\x64\" magic at offset 0x38");
        return new Arm64Image(Le.u32(b, 0), Le.u32(b, 4), Le.u64(b, 8), Le.u64(b, 16), Le.u64(b, 24), Le.u32(b, 0x3c));
    }

    public boolean bigEndian() {
        return (flags & 1) != 0;
    }

    /** Kernel page size from flags bits 1-2, or "unspecified". */
    public String pageSize() {
        return switch ((int) ((flags >> 1) & 3)) {
            case 1 -> "4K";
            case 2 -> "16K";
            case 3 -> "64K";
            default -> "unspecified";
        };
    }

    /** Flags bit 3: 1 = may be placed anywhere in physical memory. */
    public boolean physPlacementAnywhere() {
        return (flags & 8) != 0;
    }

    /** An EFI stub kernel starts with "MZ" so that it is also a PE image. */
    public boolean hasEfiStub(byte[] b) {
        return hasEfiStub(ByteBuffer.wrap(b));
    }

    public boolean hasEfiStub(ByteBuffer b) {
        return Le.u16(b, 0) == 0x5a4d;
    }
}
