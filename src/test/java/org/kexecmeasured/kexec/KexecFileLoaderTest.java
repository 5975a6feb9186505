package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.kexec.KexecException.Kind;
import org.kexecmeasured.kexec.KexecFileLoader.Target;
import org.kexecmeasured.kexec.KernelState.Lockdown;
import org.kexecmeasured.uefi.HandOff;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The loader's use of the syscall seam: flags, fds closed on every path, refusals before any call,
 * and the errno → message/kind table. The real syscalls behind the seam are exercised in the QEMU
 * guest (tests/e2e: a load the locked-down kernel refuses, a crash load, exec) and, for memfd,
 * in {@link LinuxSyscallsTest}.
 */
class KexecFileLoaderTest {

    /** Records calls; fails kexec_file_load with a chosen errno. */
    static final class Recording implements KexecSyscalls {
        final List<String> calls = new ArrayList<>();
        final Set<Integer> open = new HashSet<>();
        final List<byte[]> written = new ArrayList<>();
        int nextFd = 10;
        int failLoadWith;
        long flags = -1;
        String cmdline;

        @Override
        public int memfdWith(String name, byte[] data) {
            calls.add("memfd " + name);
            written.add(data);
            open.add(nextFd);
            return nextFd++;
        }

        @Override
        public void kexecFileLoad(int kernelFd, int initrdFd, String cmd, long f) {
            calls.add("kexec_file_load " + kernelFd + " " + initrdFd + " " + f);
            flags = f;
            cmdline = cmd;
            if (failLoadWith != 0) throw new SyscallException("kexec_file_load", failLoadWith);
        }

        @Override
        public void kexecLoad(long entry, List<org.kexecmeasured.kexec.KexecSegment> segments, long f) {
            calls.add("kexec_load " + segments.size());
            if (failLoadWith != 0) throw new SyscallException("kexec_load", failLoadWith);
        }

        @Override
        public void close(int fd) {
            calls.add("close " + fd);
            open.remove(fd);
        }

        @Override
        public void sync() {
            calls.add("sync");
        }

        @Override
        public void rebootKexec() {
            calls.add("reboot");
            throw new SyscallException("reboot", KexecErrors.EPERM);
        }
    }

    private static final KernelState PLAIN = new KernelState(false, false, 256L << 20, false, Lockdown.NONE);

    private static HandOverImage image() {
        return HandOverImage.of(new HandOff(new byte[]{1, 2, 3}, "quiet", new byte[]{9}, "", "", List.of()),
                Map.of("manifest.json", new byte[]{'{', '}'}));
    }

    @Test
    void loadPassesBothFdsTheCmdlineAndClosesThem() {
        Recording r = new Recording();
        new KexecFileLoader(r, () -> PLAIN, () -> true).load(image(), Target.REBOOT);
        assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "kexec_file_load 10 11 0",
                "close 11", "close 10"), r.calls);
        assertEquals("quiet", r.cmdline);
        assertArrayEquals(new byte[]{1, 2, 3}, r.written.get(0));
        assertArrayEquals(image().initrd(), r.written.get(1));
        assertTrue(r.open.isEmpty());
    }

    @Test
    void crashLoadSetsOnCrashAndUnloadSetsUnload() {
        Recording r = new Recording();
        KexecFileLoader l = new KexecFileLoader(r, () -> PLAIN, () -> true);
        l.load(image(), Target.CRASH);
        assertEquals(KexecFileLoader.KEXEC_FILE_ON_CRASH, r.flags);
        l.unload(Target.CRASH);
        assertEquals(KexecFileLoader.KEXEC_FILE_UNLOAD | KexecFileLoader.KEXEC_FILE_ON_CRASH, r.flags);
        l.unload(Target.REBOOT);
        assertEquals(KexecFileLoader.KEXEC_FILE_UNLOAD, r.flags);
    }

    @Test
    void crashLoadWithoutReservationIsRefusedBeforeAnySyscall() {
        Recording r = new Recording();
        KernelState none = new KernelState(false, false, 0L, false, Lockdown.NONE);
        KexecException e = assertThrows(KexecException.class,
                () -> new KexecFileLoader(r, () -> none, () -> true).load(image(), Target.CRASH));
        assertEquals(Kind.REFUSED, e.kind());
        assertTrue(e.getMessage().contains("crashkernel="), e.getMessage());
        assertEquals(List.of(), r.calls);
    }

    @Test
    void aRejectedLoadClosesFdsAndExplainsByLockdownState() {
        Recording r = new Recording();
        r.failLoadWith = KexecErrors.EPERM;
        KernelState locked = new KernelState(false, false, 0L, false, Lockdown.INTEGRITY);
        KexecException e = assertThrows(KexecException.class,
                () -> new KexecFileLoader(r, () -> locked, () -> true).load(image(), Target.REBOOT));
        assertEquals(Kind.SIGNATURE_REJECTED, e.kind());
        assertTrue(e.getMessage().contains("locked down (integrity)") && e.getMessage().contains("EPERM"), e.getMessage());
        assertTrue(r.open.isEmpty(), "fds closed after a failure");

        e = assertThrows(KexecException.class,
                () -> new KexecFileLoader(r, () -> PLAIN, () -> false).load(image(), Target.REBOOT));
        assertEquals(Kind.REFUSED, e.kind());
        assertTrue(e.getMessage().contains("needs root"), e.getMessage());
    }

    @Test
    void everyErrnoHasAKindAndNamesItself() {
        Map<Integer, Kind> expected = Map.ofEntries(
                Map.entry(KexecErrors.ENOKEY, Kind.SIGNATURE_REJECTED), Map.entry(KexecErrors.EKEYREJECTED, Kind.SIGNATURE_REJECTED),
                Map.entry(KexecErrors.EBADMSG, Kind.SIGNATURE_REJECTED), Map.entry(KexecErrors.ENODATA, Kind.SIGNATURE_REJECTED),
                Map.entry(KexecErrors.EKEYREVOKED, Kind.SIGNATURE_REJECTED), Map.entry(KexecErrors.ENOEXEC, Kind.BAD_IMAGE),
                Map.entry(KexecErrors.ENOMEM, Kind.REFUSED), Map.entry(KexecErrors.EBUSY, Kind.REFUSED),
                Map.entry(KexecErrors.EINVAL, Kind.REFUSED), Map.entry(KexecErrors.EADDRNOTAVAIL, Kind.REFUSED),
                Map.entry(KexecErrors.ENOSYS, Kind.REFUSED), Map.entry(KexecErrors.EBADF, Kind.INTERNAL),
                Map.entry(KexecErrors.EFAULT, Kind.INTERNAL));
        expected.forEach((errno, kind) -> {
            KexecException e = KexecErrors.load(errno, false, PLAIN, true);
            assertEquals(kind, e.kind(), KexecErrors.errnoName(errno));
            assertTrue(e.getMessage().contains(KexecErrors.errnoName(errno)), e.getMessage());
            assertEquals(errno, e.errno());
        });
        KernelState smallCrash = new KernelState(false, false, 64L << 20, false, Lockdown.NONE);
        assertTrue(KexecErrors.load(KexecErrors.ENOMEM, true, smallCrash, true).getMessage().contains("64 MiB"));
        KernelState disabled = new KernelState(false, false, 0L, true, Lockdown.NONE);
        assertTrue(KexecErrors.load(KexecErrors.EPERM, false, disabled, true).getMessage().contains("kexec_load_disabled"));
    }

    @Test
    void execSyncsFirstAndRefusesWhenNothingIsLoaded() {
        Recording r = new Recording();
        KexecException e = assertThrows(KexecException.class, () -> new KexecFileLoader(r, () -> PLAIN, () -> true).exec());
        assertTrue(e.getMessage().contains("no kernel is loaded"), e.getMessage());
        assertEquals(List.of(), r.calls);
        KernelState loaded = new KernelState(true, false, 0L, false, Lockdown.NONE);
        e = assertThrows(KexecException.class, () -> new KexecFileLoader(r, () -> loaded, () -> true).exec());
        assertEquals(List.of("sync", "reboot"), r.calls);
        assertEquals(Kind.REFUSED, e.kind());
    }
}
