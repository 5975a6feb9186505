package org.kexecmeasured.kexec;

import org.kexecmeasured.payload.linux.BzImage;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.util.BadInputException;

import java.io.ByteArrayOutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What {@code kexec_file_load} gets: the kernel the payload would have started, the command line it
 * computed, and one initrd = what the payload handed over (systemd-stub's credential and sysext cpios
 * included) followed by a newc cpio that carries the sidecar under {@code /.extra/kexec-measured/} (and
 * the policy's files for {@code /.extra/} itself).
 * The Linux unpacker reads concatenated archives (compressed ones too) as long as each starts on a
 * 4-byte boundary, so the payload's initrd is padded with zeros before the sidecar.
 */
public record HandOverImage(byte[] kernel, byte[] initrd, String cmdline, int payloadInitrdSize, int sidecarSize) {

    /** Where the next system finds the sidecar (systemd-stub's {@code /.extra/} convention). */
    public static final String SIDECAR_PREFIX = ".extra/kexec-measured/";
    /** systemd-stub's directory for files the next system's tools pick up. */
    public static final String EXTRA_PREFIX = ".extra/";

    public HandOverImage {
        kernel = kernel.clone();
        initrd = initrd.clone();
    }

    @Override
    public byte[] kernel() {
        return kernel.clone();
    }

    @Override
    public byte[] initrd() {
        return initrd.clone();
    }

    /**
     * The hand-over of {@code h} with the sidecar {@code files} (names relative to
     * {@code /.extra/kexec-measured/}, e.g. {@code tpm2-event-log.bin}, in the given order).
     */
    public static HandOverImage of(HandOff h, Map<String, byte[]> sidecarFiles) {
        return of(h, sidecarFiles, Map.of());
    }

    /**
     * … and {@code extraFiles} in {@code /.extra/} itself (plain names), where other tools of the next
     * system look for them: a re-authorization's {@code tpm2-pcr-signature.json}, where systemd-stub
     * unpacks a UKI's {@code .pcrsig}.
     */
    public static HandOverImage of(HandOff h, Map<String, byte[]> sidecarFiles, Map<String, byte[]> extraFiles) {
        Map<String, byte[]> members = new LinkedHashMap<>();
        sidecarFiles.forEach((name, data) -> members.put(SIDECAR_PREFIX + name, data));
        extraFiles.forEach((name, data) -> {
            if (name.isEmpty() || name.contains("/") || (EXTRA_PREFIX + name + "/").equals(SIDECAR_PREFIX)) {
                throw new IllegalArgumentException("not a /.extra/ file name: '" + name + "'");
            }
            members.put(EXTRA_PREFIX + name, data);
        });
        byte[] sidecar = NewcCpio.of(members);
        byte[] payloadInitrd = h.initrd();
        ByteArrayOutputStream b = new ByteArrayOutputStream(payloadInitrd.length + 4 + sidecar.length);
        b.writeBytes(payloadInitrd);
        while (b.size() % 4 != 0) b.write(0);
        b.writeBytes(sidecar);
        return new HandOverImage(h.kernel(), b.toByteArray(), h.cmdline(), payloadInitrd.length, sidecar.length);
    }

    /**
     * What the x86_64 kernel's bzImage64 loader will check ({@code bzImage64_probe}, {@code bzImage64_load}),
     * checked here first so the refusal names the field: a 64-bit bzImage, boot protocol 2.12 or later,
     * loadable above 4 GiB, and a command line that fits the image's cmdline_size.
     */
    public void checkForX86_64() {
        if (!BzImage.looksLikeBzImage(kernel)) {
            throw new BadInputException("the kernel the payload starts is not a bzImage (no \"HdrS\" setup header): "
                    + "kexec_file_load on x86_64 loads bzImages only");
        }
        BzImage z = BzImage.parse(kernel);
        if (z.version() < 0x20c) {
            throw new BadInputException(String.format("the kernel's boot protocol is %d.%02d: kexec_file_load needs 2.12 or later",
                    z.version() >> 8, z.version() & 0xff));
        }
        if ((z.xloadFlags() & BzImage.XLF_KERNEL_64) == 0 || (z.xloadFlags() & BzImage.XLF_CAN_BE_LOADED_ABOVE_4G) == 0) {
            throw new BadInputException("the kernel's xloadflags lack XLF_KERNEL_64 or XLF_CAN_BE_LOADED_ABOVE_4G: "
                    + "kexec_file_load loads 64-bit kernels that can live above 4 GiB");
        }
        long len = cmdline.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L;
        if (z.cmdlineSize() > 0 && len > z.cmdlineSize()) {
            throw new BadInputException("the command line (" + len + " bytes with its NUL) is longer than the kernel's "
                    + "cmdline_size (" + z.cmdlineSize() + ")");
        }
    }
}
