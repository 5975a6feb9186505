package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.uefi.HandOff;
import org.kexecmeasured.util.BadInputException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The initrd the next kernel gets: the payload's initrd untouched, zero padding, then the sidecar archive. */
class HandOverImageTest {

    @Test
    void initrdIsThePayloadsThenAlignedSidecarThatGnuCpioExtracts(@TempDir Path dir) throws IOException {
        // a real newc initrd from GNU cpio, one byte longer so the padding matters
        Path root = Files.createDirectories(dir.resolve("root/etc"));
        Files.writeString(root.resolve("hello"), "from the payload\n");
        byte[] cpio = RealParts.runBytes(List.of("sh", "-c", "cd '" + dir.resolve("root")
                + "' && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible"), "cpio");
        byte[] payloadInitrd = Arrays.copyOf(cpio, cpio.length + 1);
        byte[] kernel = Files.readAllBytes(RealParts.kernel());
        HandOff h = new HandOff(kernel, "console=ttyS0 km.test=1", payloadInitrd, "", "", List.of());
        Map<String, byte[]> side = new LinkedHashMap<>();
        side.put("tpm2-event-log.bin", new byte[]{1, 2, 3, 4, 5});
        side.put("manifest.json", "{}".getBytes(StandardCharsets.UTF_8));
        HandOverImage img = HandOverImage.of(h, side);

        byte[] initrd = img.initrd();
        assertArrayEquals(payloadInitrd, Arrays.copyOf(initrd, payloadInitrd.length), "the payload's initrd comes first, unchanged");
        int sidecarAt = (payloadInitrd.length + 3) & ~3;
        for (int i = payloadInitrd.length; i < sidecarAt; i++) assertEquals(0, initrd[i], "zero padding");
        assertEquals("070701", new String(initrd, sidecarAt, 6, StandardCharsets.US_ASCII), "the sidecar starts 4-byte aligned");
        assertEquals(initrd.length - sidecarAt, img.sidecarSize());
        assertEquals(payloadInitrd.length, img.payloadInitrdSize());

        Path tail = dir.resolve("tail.cpio");
        Files.write(tail, Arrays.copyOfRange(initrd, sidecarAt, initrd.length));
        Path out = Files.createDirectory(dir.resolve("out"));
        RealParts.run(List.of("sh", "-c", "cd '" + out + "' && cpio -idm --quiet --no-absolute-filenames < '" + tail + "'"), "cpio");
        assertArrayEquals(new byte[]{1, 2, 3, 4, 5}, Files.readAllBytes(out.resolve(".extra/kexec-measured/tpm2-event-log.bin")));
        assertArrayEquals("{}".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(out.resolve(".extra/kexec-measured/manifest.json")));
        assertArrayEquals(kernel, img.kernel());
        assertEquals("console=ttyS0 km.test=1", img.cmdline());
    }

    /**
     * A policy's files for {@code /.extra/} itself (a re-authorization's tpm2-pcr-signature.json, where the
     * next system's systemd-cryptsetup looks) travel in the same archive as the sidecar: GNU cpio lists
     * each directory once, before its files, and extracts both trees.
     */
    @Test
    void filesForExtraItselfGoBesideTheSidecarDirectory(@TempDir Path dir) throws IOException {
        byte[] sig = "{\"sha256\":[]}".getBytes(StandardCharsets.UTF_8);
        Map<String, byte[]> side = new LinkedHashMap<>();
        side.put("manifest.json", "{}".getBytes(StandardCharsets.UTF_8));
        side.put("tpm2-pcr-signature.json", sig);
        HandOverImage img = HandOverImage.of(new HandOff(new byte[]{1}, "", new byte[]{7, 7, 7}, "", "", List.of()), side,
                Map.of("tpm2-pcr-signature.json", sig));
        byte[] initrd = img.initrd();
        Path tail = dir.resolve("tail.cpio");
        Files.write(tail, Arrays.copyOfRange(initrd, 4, initrd.length));
        String listing = new String(RealParts.runBytes(List.of("sh", "-c", "cpio -it --quiet < '" + tail + "'"), "cpio"),
                StandardCharsets.UTF_8);
        assertEquals(List.of(".extra", ".extra/kexec-measured", ".extra/kexec-measured/manifest.json",
                ".extra/kexec-measured/tpm2-pcr-signature.json", ".extra/tpm2-pcr-signature.json"), listing.lines().toList());
        Path out = Files.createDirectory(dir.resolve("out"));
        RealParts.run(List.of("sh", "-c", "cd '" + out + "' && cpio -idm --quiet --no-absolute-filenames < '" + tail + "'"), "cpio");
        assertArrayEquals(sig, Files.readAllBytes(out.resolve(".extra/tpm2-pcr-signature.json")));
        assertArrayEquals(sig, Files.readAllBytes(out.resolve(".extra/kexec-measured/tpm2-pcr-signature.json")));
        // the sidecar's own directory cannot be replaced by a file, nor a path smuggled in
        HandOff h = new HandOff(new byte[]{1}, "", new byte[0], "", "", List.of());
        assertThrows(IllegalArgumentException.class, () -> HandOverImage.of(h, Map.of(), Map.of("kexec-measured", sig)));
        assertThrows(IllegalArgumentException.class, () -> HandOverImage.of(h, Map.of(), Map.of("../x", sig)));
    }

    @Test
    void debiansKernelPassesTheBzImage64ChecksAndATooLongCmdlineDoesNot() throws IOException {
        byte[] kernel = Files.readAllBytes(RealParts.kernel());
        // the cmdline_size field read independently of our BzImage parser (boot.rst: offset 0x238, protocol 2.06+)
        long cmdlineSize = ByteBuffer.wrap(kernel).order(ByteOrder.LITTLE_ENDIAN).getInt(0x238) & 0xffffffffL;
        assertTrue(cmdlineSize >= 255, "Debian's kernel declares a cmdline_size");
        String fits = "a".repeat((int) cmdlineSize - 1);
        assertDoesNotThrow(() -> image(kernel, fits).checkForX86_64());
        BadInputException e = assertThrows(BadInputException.class, () -> image(kernel, fits + "b").checkForX86_64());
        assertTrue(e.getMessage().contains("cmdline_size (" + cmdlineSize + ")"), e.getMessage());
    }

    @Test
    void aUkiOrATooOldProtocolIsRefusedBeforeTheKernelSeesIt(@TempDir Path dir) throws IOException {
        byte[] uki = Files.readAllBytes(RealParts.makeUki(dir));
        BadInputException e = assertThrows(BadInputException.class, () -> image(uki, "").checkForX86_64());
        assertTrue(e.getMessage().contains("not a bzImage"), e.getMessage());
        byte[] old = Files.readAllBytes(RealParts.kernel());
        old[0x206] = 0x0b; // boot protocol 2.11
        e = assertThrows(BadInputException.class, () -> image(old, "").checkForX86_64());
        assertTrue(e.getMessage().contains("2.11"), e.getMessage());
    }

    private static HandOverImage image(byte[] kernel, String cmdline) {
        return HandOverImage.of(new HandOff(kernel, cmdline, new byte[0], "", "", List.of()), Map.of());
    }
}
