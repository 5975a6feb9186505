package org.kexecmeasured.payload.linux;

import org.kexecmeasured.util.Le;
import org.kexecmeasured.util.BadInputException;

import java.nio.ByteBuffer;

/**
 * The EFI zboot header (Linux drivers/firmware/efi/libstub/zboot-header.S): a PE image whose DOS
 * header carries "zimg" at 4, the compressed payload's offset (8) and size (12), and the
 * compression name as a NUL-terminated string at 0x18. The decompressor is the PE's own code.
 */
public record ZbootHeader(long payloadOffset, long payloadSize, String compressionType, String detectedCompression) {

    public static boolean looksLikeZboot(byte[] b) {
        return looksLikeZboot(ByteBuffer.wrap(b));
    }

    public static boolean looksLikeZboot(ByteBuffer b) {
        return b.limit() >= 0x40 && Le.u16(b, 0) == 0x5a4d && Le.startsWith(b, 4, new byte[]{'z', 'i', 'm', 'g'});
    }

    public static ZbootHeader parse(byte[] b) {
        return parse(ByteBuffer.wrap(b));
    }

    public static ZbootHeader parse(ByteBuffer b) {
        if (!looksLikeZboot(b)) throw new BadInputException("zboot: no \"zimg\" at offset 4");
        long off = Le.u32(b, 8);
        long size = Le.u32(b, 12);
        if (off + size > b.limit()) {
            throw new BadInputException(String.format("zboot: payload [0x%x, +0x%x) extends past the end of the file (%d bytes)", off, size, b.limit()));
        }
        String type = Le.cString(b, 0x18, 0x38 - 0x18);
        String detected = size > 0 ? Magic.compression(b, (int) off) : null;
        return new ZbootHeader(off, size, type, detected);
    }
}
