package org.kexecmeasured.boot;

/**
 * An executable image the run starts or hands over, as a policy's payload trust must see it: every image, not
 * only the payload (a signed systemd-boot may LoadImage an unsigned UKI from the ESP). Recorded by
 * {@link ChainMeasurer} at the points where firmware measures images, plus the kernel the payload hands over.
 *
 * @param name               where it came from: the device path as text (the ESP path), or a description
 * @param kind               how it was started
 * @param authenticodeSha256 its SHA-256 Authenticode digest when the run computed one (the PCR 4 digest), else null
 * @param bytes              the image file exactly as loaded, a view at position 0 (an array's wrap, or the payload's
 *                           file mapping); not copied (it may be 100 MiB): callers must not change it
 */
public record LoadedImage(String name, Kind kind, byte[] authenticodeSha256, java.nio.ByteBuffer bytes) {

    /** An image held as an array. */
    public LoadedImage(String name, Kind kind, byte[] authenticodeSha256, byte[] bytes) {
        this(name, kind, authenticodeSha256, bytes == null ? null : java.nio.ByteBuffer.wrap(bytes));
    }

    /** How an image came to run. */
    public enum Kind {
        /** The payload kexec-measured started itself (the boot option). */
        PAYLOAD("the payload"),
        /** Loaded through the boot service LoadImage (systemd-boot's UKI, systemd-stub's kernel on 252–257, addons). */
        LOAD_IMAGE("loaded by LoadImage"),
        /**
         * Loaded by the chain's own PE loader and measured by it through EFI_TCG2_PROTOCOL with PE_COFF_IMAGE
         * (shim starting GRUB): no LoadImage, so firmware never checked it.
         */
        MEASURED_PE("loaded by the chain's own loader"),
        /** The kernel the payload hands over at the cut-over: what kexec loads. */
        KERNEL("the kernel handed over");

        public final String words;

        Kind(String words) {
            this.words = words;
        }
    }

    /** "image \EFI\Linux\x.efi (loaded by LoadImage)". */
    public String describe() {
        return kind == Kind.PAYLOAD ? "the payload " + name : "image " + name + " (" + kind.words + ")";
    }
}
