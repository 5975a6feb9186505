package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An ext4 /boot whose kernel inode claims a huge size (i_size = 2^44 bytes), read by Debian's GRUB through
 * BlockIo/DiskIo: GRUB cannot load the file, fails the menu entry and shows its menu again, waiting for a key; the
 * run ends within seconds as a stuck payload with GRUB's console tail — an {@link EmulationException}, never a host exception, and the
 * host never allocates what the field claims. Where the inode lives comes from debugfs (e2fsprogs), not from our
 * code.
 */
class HostileExt4Test {

    @TempDir
    Path dir;

    @Test
    void aKernelInodeWithAHugeSizeEndsInGrubsOwnErrorNotAHostException() throws Exception {
        Path disk = RealParts.makeDisk(dir.resolve("d"));
        Path ext = dir.resolve("boot.ext4");
        long partOffset = (1 + 40) * (1L << 20); // make-disk: 1 MiB alignment, then the 40 MiB ESP
        RealParts.run(List.of("dd", "if=" + disk, "of=" + ext, "bs=1M", "skip=41", "count=64", "status=none"), "coreutils");
        String imap = RealParts.run(List.of("debugfs", "-R", "imap /boot/vmlinuz", ext.toString()), "e2fsprogs");
        Matcher m = Pattern.compile("located at block (\\d+), offset 0x([0-9a-fA-F]+)").matcher(imap);
        assertTrue(m.find(), imap);
        Matcher bs = Pattern.compile("Block size:\\s+(\\d+)").matcher(
                RealParts.run(List.of("debugfs", "-R", "stats", ext.toString()), "e2fsprogs"));
        assertTrue(bs.find(), "debugfs stats printed no block size");
        long inode = partOffset + Long.parseLong(m.group(1)) * Long.parseLong(bs.group(1)) + Long.parseLong(m.group(2), 16);
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.seek(inode + 4); // i_size_lo
            f.write(new byte[]{0, 0, 0, 0});
            f.seek(inode + 108); // i_size_high: 2^12 << 32 = 2^44 bytes
            f.write(new byte[]{0, 0x10, 0, 0});
        }
        byte[] shim = RealParts.runBytes(List.of("mtype", "-i", disk + "@@1M", "::EFI/debian/shimx64.efi"), "mtools");
        EmulationException e = assertThrows(EmulationException.class, () -> Emulator.run(shim,
                EmulatorOptions.builder().disk(disk).bootPath("\\EFI\\debian\\shimx64.efi").timeBudgetMillis(240_000).build()));
        String msg = e.getMessage();
        // GRUB fails the menu entry, shows its menu again and waits for a key: the idle watch ends the run with
        // GRUB's console in the message
        assertTrue(msg.contains("stopped making progress"), msg);
        assertTrue(msg.contains("Debian GNU/Linux"), "GRUB's menu, shown again after the entry failed: " + msg);
    }
}
