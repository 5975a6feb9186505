package org.kexecmeasured.util;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.payload.PayloadFile;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which file systems a read lease protects: only those where every change of a mapped file's pages goes through an
 * open or truncate of the leased inode. On overlayfs a write through the lower layer's own path changes the bytes a
 * mapping of the merged file shows while F_GETLEASE still says F_RDLCK (shown by hand with python's fcntl on this
 * machine's kernel, 6.18); FUSE, virtiofs and network file systems change pages without any local open.
 */
class ReadLeaseTest {

    @Test
    void localFileSystemsKeepTheLeaseAndLayeredOrRemoteOnesDoNot() {
        // linux/magic.h
        assertTrue(ReadLease.leaseCoversEveryWriter(0xEF53L), "ext4");
        assertTrue(ReadLease.leaseCoversEveryWriter(0x58465342L), "xfs");
        assertTrue(ReadLease.leaseCoversEveryWriter(0x9123683EL), "btrfs (f_type zero-extended)");
        assertTrue(ReadLease.leaseCoversEveryWriter(0x01021994L), "tmpfs");
        assertFalse(ReadLease.leaseCoversEveryWriter(0x794C7630L), "overlayfs");
        assertFalse(ReadLease.leaseCoversEveryWriter(0x65735546L), "fuse");
        assertFalse(ReadLease.leaseCoversEveryWriter(0x6969L), "nfs");
        assertFalse(ReadLease.leaseCoversEveryWriter(0x01021997L), "9p");
        assertFalse(ReadLease.leaseCoversEveryWriter(0xFE534D42L), "smb2");
        assertFalse(ReadLease.leaseCoversEveryWriter(0x00C36400L), "ceph");
        assertFalse(ReadLease.leaseCoversEveryWriter(0x1_0000_EF53L), "only the 32-bit magic counts");
    }

    @Test
    void aFileSystemOffTheListIsNotLeasedAndSaysItsType() throws Exception {
        // procfs (not on the list): its f_type as stat(1) reads it is the oracle for the reason's number
        Path f = Path.of("/proc/self/status");
        Process stat = new ProcessBuilder("stat", "-f", "-c", "%t", f.toString()).start();
        String type = new String(stat.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        assertEquals(0, stat.waitFor(), "stat -f (coreutils)");
        ReadLease.Unavailable u = assertThrows(ReadLease.Unavailable.class, () -> ReadLease.take(f));
        assertTrue(u.getMessage().contains("f_type 0x" + type + ")"), u.getMessage());
        try (PayloadFile p = PayloadFile.open(f)) {
            assertEquals(PayloadFile.Source.COPY, p.source());
            assertTrue(p.fallbackReason().contains("f_type 0x" + type), p.fallbackReason());
        }
    }

    /**
     * Between F_SETLEASE and F_SETOWN 0 the process owns the lease's break signal: a writer breaking it then sent
     * SIGIO, whose default action ended the process (python's fcntl on this kernel: exit 157, "I/O possible"). With
     * the break signal set to SIGWINCH this JVM survives a break in that state, and the break shows in held().
     */
    @Test
    void aBreakWhileThisProcessOwnsTheLeaseDoesNotEndIt(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path f = dir.resolve("leased.bin");
        java.nio.file.Files.write(f, new byte[4096]);
        try (ReadLease l = ReadLease.take(f)) {
            l.ownBreakSignalForTest();
            Process w = new ProcessBuilder("python3", "-c",
                    "import os,sys\ntry:\n os.open(sys.argv[1], os.O_WRONLY|os.O_NONBLOCK)\nexcept BlockingIOError:\n print('EAGAIN')",
                    f.toString()).redirectErrorStream(true).start();
            assertEquals("EAGAIN", new String(w.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim());
            assertEquals(0, w.waitFor());
            Thread.sleep(200); // a SIGIO would have ended this JVM by now
            assertFalse(l.held(), "the break is seen");
        }
    }
}
