package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JNA bindings that are safe to call on the build machine: memfd_create + write + close (read back
 * through /proc/self/fd, the kernel's view of the file kexec_file_load would read). kexec_file_load and
 * reboot are only ever called inside the QEMU guest (tests/e2e).
 */
class LinuxSyscallsTest {

    @Test
    void memfdHoldsExactlyTheBytesAcrossSeveralWriteChunks() throws IOException {
        LinuxSyscalls sys = LinuxSyscalls.load();
        byte[] data = new byte[(3 << 20) + 5];
        new Random(1).nextBytes(data);
        int fd = sys.memfdWith("kexec-measured-test", data);
        Path link = Path.of("/proc/self/fd/" + fd);
        try {
            assertTrue(Files.readSymbolicLink(link).toString().startsWith("/memfd:kexec-measured-test"));
            assertArrayEquals(data, Files.readAllBytes(link));
        } finally {
            sys.close(fd);
        }
        assertFalse(Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS), "closed");
        int empty = sys.memfdWith("empty", new byte[0]);
        try {
            assertEquals(0, Files.size(Path.of("/proc/self/fd/" + empty)));
        } finally {
            sys.close(empty);
        }
    }

    @Test
    void closingAClosedFdReportsEbadf() {
        LinuxSyscalls sys = LinuxSyscalls.load();
        int fd = sys.memfdWith("x", new byte[]{1});
        sys.close(fd);
        KexecSyscalls.SyscallException e = org.junit.jupiter.api.Assertions.assertThrows(
                KexecSyscalls.SyscallException.class, () -> sys.close(fd));
        assertEquals(KexecErrors.EBADF, e.errno());
    }

    @Test
    void capSysBootIsReadFromTheStatusFile(@TempDir Path dir) throws IOException {
        Path with = dir.resolve("with");
        Files.writeString(with, "Name:\tx\nCapEff:\t000001ffffffffff\n");
        Path without = dir.resolve("without");
        Files.writeString(without, "CapEff:\t0000000000000000\n");
        Path onlyBoot = dir.resolve("only");
        Files.writeString(onlyBoot, "CapEff:\t0000000000400000\n");
        assertTrue(KexecFileLoader.hasCapSysBoot(with));
        assertFalse(KexecFileLoader.hasCapSysBoot(without));
        assertTrue(KexecFileLoader.hasCapSysBoot(onlyBoot));
    }
}
