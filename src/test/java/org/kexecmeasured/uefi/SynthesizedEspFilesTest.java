package org.kexecmeasured.uefi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.uefi.protocol.SimpleFileSystemProtocol;
import org.kexecmeasured.uefi.spi.Call;
import org.kexecmeasured.uefi.spi.Cpu;
import org.kexecmeasured.uefi.spi.EfiStatus;
import org.kexecmeasured.uefi.spi.GuestMemory;
import org.kexecmeasured.uefi.spi.GuestMemoryException;
import org.kexecmeasured.uefi.spi.HostFileSystem;
import org.kexecmeasured.uefi.spi.MemoryType;
import org.kexecmeasured.uefi.spi.ProtocolContext;
import org.kexecmeasured.uefi.spi.Service;
import org.kexecmeasured.uefi.spi.ServiceException;
import org.kexecmeasured.uefi.spi.ServiceSlots;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The synthesized ESP serves the payload from its own bytes (no temporary copy): what a guest sees through
 * EFI_SIMPLE_FILE_SYSTEM_PROTOCOL / EFI_FILE_PROTOCOL — the directory listing, Open, Read in pieces, positions,
 * EFI_FILE_INFO, EFI_FILE_SYSTEM_INFO — is checked against the payload file on disk, read by the JDK, and against
 * the same file served from a host directory (the tree the synthesized ESP used to write), which must answer
 * byte for byte the same but for the times. Writing is refused as on write-protected media, and nothing is created
 * in the temporary directory. The services are called as the guest calls them: registers set on the real CPU,
 * buffers in guest RAM from AllocatePool.
 */
class SynthesizedEspFilesTest {

    private static final long EFI_FILE_MODE_READ = 1;
    private static final long EFI_FILE_MODE_WRITE = 2;
    private static final long EFI_FILE_MODE_CREATE = 0x8000000000000000L;
    private static final long EFI_WARN_DELETE_FAILURE = 2;

    @TempDir
    Path dir;

    /** Records each service by its slot name, so the test calls what the guest would reach through the slot. */
    private static final class NamedSlots implements ServiceSlots {
        final ServiceSlots real;
        final Map<String, Service> byName = new HashMap<>();

        NamedSlots(ServiceSlots real) {
            this.real = real;
        }

        @Override
        public long slot(String name, Service service) {
            byName.put(name, service);
            return real.slot(name, service);
        }
    }

    /** A platform with one file system (on recorded slots) and a guest-side view of it. */
    private static final class Guest implements AutoCloseable {
        final Platform platform;
        final GuestMemory m;
        final NamedSlots slots;
        final ProtocolContext ctx;

        Guest() {
            platform = Platform.create(EmulatorOptions.builder().ramSize(128L << 20).build());
            ProtocolContext real = platform.firmware().protocolContext();
            slots = new NamedSlots(real.slots());
            ctx = new ProtocolContext(real.mem(), real.allocator(), slots, real.handles());
            m = real.mem();
        }

        long call(String fn, long... args) {
            Cpu cpu = platform.firmware().machine().cpu();
            Cpu.Reg[] regs = {Cpu.Reg.RCX, Cpu.Reg.RDX, Cpu.Reg.R8, Cpu.Reg.R9};
            for (int i = 0; i < args.length; i++) {
                cpu.setReg(regs[i], args[i]);
            }
            return slots.byName.get(fn).call(new Call(cpu, fn));
        }

        long pool(long size) {
            long a = ctx.allocator().allocatePool(MemoryType.LoaderData, size);
            assertTrue(a > 0, "AllocatePool " + size);
            return a;
        }

        long cstr(String s) {
            byte[] b = (s + "\0").getBytes(StandardCharsets.UTF_16LE);
            long a = pool(b.length);
            m.write(a, b);
            return a;
        }

        long guid(org.kexecmeasured.efi.Guid g) {
            long a = pool(16);
            m.putGuid(a, g);
            return a;
        }

        /** OpenVolume on the handle's SimpleFileSystem: the root's EFI_FILE_PROTOCOL. */
        long openVolume(long handle) {
            Long sfs = platform.firmware().protocols().get(handle, SimpleFileSystemProtocol.GUID);
            long out = pool(8);
            assertEquals(EfiStatus.SUCCESS, call("SimpleFileSystem.OpenVolume", sfs, out));
            return m.u64(out);
        }

        long open(long base, String name, long mode) {
            long out = pool(8);
            long st = call("File.Open", base, out, cstr(name), mode);
            return st == EfiStatus.SUCCESS ? m.u64(out) : -st;
        }

        /** The next directory entry's EFI_FILE_INFO, asking its size first as systemd's readdir does; null at the end. */
        byte[] readDir(long file) {
            long size = pool(8);
            m.putU64(size, 0);
            long st = call("File.Read", file, size, 0);
            if (st == EfiStatus.SUCCESS) {
                assertEquals(0, m.u64(size), "the end of the directory reads 0 bytes");
                return null;
            }
            assertEquals(EfiStatus.BUFFER_TOO_SMALL, st);
            long need = m.u64(size);
            long buf = pool(need);
            assertEquals(EfiStatus.SUCCESS, call("File.Read", file, size, buf));
            assertEquals(need, m.u64(size));
            return m.read(buf, (int) need);
        }

        byte[] info(long file, org.kexecmeasured.efi.Guid type) {
            long size = pool(8);
            m.putU64(size, 0);
            long g = guid(type);
            assertEquals(EfiStatus.BUFFER_TOO_SMALL, call("File.GetInfo", file, g, size, 0));
            long buf = pool(m.u64(size));
            assertEquals(EfiStatus.SUCCESS, call("File.GetInfo", file, g, size, buf));
            return m.read(buf, (int) m.u64(size));
        }

        /** File.Read of {@code want} bytes into a new pool buffer: the bytes the call reported. */
        byte[] read(long file, long want) {
            long size = pool(8);
            m.putU64(size, want);
            long buf = pool(Math.max(want, 1));
            assertEquals(EfiStatus.SUCCESS, call("File.Read", file, size, buf));
            return m.read(buf, (int) m.u64(size));
        }

        long position(long file) {
            long out = pool(8);
            assertEquals(EfiStatus.SUCCESS, call("File.GetPosition", file, out));
            return m.u64(out);
        }

        @Override
        public void close() {
            platform.close();
        }
    }

    /** A payload file of {@code size} pseudo-random bytes (more than a deferred placement's 1 MiB, not page-sized). */
    private Path payloadFile(String name, int size) throws Exception {
        byte[] b = new byte[size];
        new Random(size).nextBytes(b);
        Path f = dir.resolve(name);
        Files.write(f, b);
        return f;
    }

    private static String name(byte[] fileInfo) {
        return new String(fileInfo, 80, fileInfo.length - 82, StandardCharsets.UTF_16LE);
    }

    /** EFI_FILE_INFO without its three EFI_TIMEs (bytes 24 to 72). */
    private static byte[] withoutTimes(byte[] fileInfo) {
        byte[] b = fileInfo.clone();
        Arrays.fill(b, 24, 72, (byte) 0);
        return b;
    }

    private static Instant time(byte[] fileInfo, int which) {
        ByteBuffer b = ByteBuffer.wrap(fileInfo, 24 + 16 * which, 16).order(ByteOrder.LITTLE_ENDIAN);
        LocalDateTime t = LocalDateTime.of(b.getShort() & 0xFFFF, b.get(), b.get(), b.get(), b.get(), b.get());
        return t.toInstant(ZoneOffset.UTC);
    }

    @Test
    void theGuestListsOpensReadsAndInspectsThePayloadAsTheFileOnDisk() throws Exception {
        Path file = payloadFile("payload.bin", (3 << 20) + 12345);
        byte[] disk = Files.readAllBytes(file); // the oracle: the file as the JDK reads it
        // the same file in a host directory, served by the host tree: what the synthesized ESP used to write
        Path hostEsp = dir.resolve("host-esp");
        Path hostFile = Files.createDirectories(hostEsp.resolve("EFI/Linux")).resolve("Uki.efi");
        Files.copy(file, hostFile);
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        try (PayloadFile payload = PayloadFile.open(file); Guest g = new Guest()) {
            SynthesizedEsp esp = new SynthesizedEsp(g.ctx, g.platform.firmware().images(), "Uki.efi", payload.buffer());
            Instant t1 = Instant.now();
            assertEquals("\\EFI\\Linux\\Uki.efi", esp.filePath());
            long root = g.openVolume(esp.handle());

            // the root, its listing, \EFI\Linux's listing: one entry each
            byte[] rootInfo = g.info(root, SimpleFileSystemProtocol.FILE_INFO);
            assertEquals("", name(rootInfo));
            assertEquals(0x10, ByteBuffer.wrap(rootInfo).order(ByteOrder.LITTLE_ENDIAN).getLong(72), "a directory");
            byte[] efi = g.readDir(root);
            assertEquals("EFI", name(efi));
            assertEquals(null, g.readDir(root));
            long linux = g.open(root, "EFI\\Linux", EFI_FILE_MODE_READ);
            assertTrue(linux > 0);
            byte[] listed = g.readDir(linux);
            assertEquals(null, g.readDir(linux));

            // the file opened as systemd-boot opens it (any case), its FILE_INFO as listed
            long f = g.open(root, "\\efi\\LINUX\\uki.EFI", EFI_FILE_MODE_READ);
            assertTrue(f > 0, "Open: " + EfiStatus.name(-f));
            byte[] info = g.info(f, SimpleFileSystemProtocol.FILE_INFO);
            assertArrayEquals(listed, info);
            ByteBuffer ib = ByteBuffer.wrap(info).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(info.length, ib.getLong(0));
            assertEquals(Files.size(file), ib.getLong(8), "FileSize");
            assertEquals(0x20, ib.getLong(72), "EFI_FILE_ARCHIVE, not read-only, as the host tree reports it");
            assertEquals("Uki.efi", name(info));
            for (int i = 0; i < 3; i++) {
                Instant t = time(info, i);
                assertFalse(t.isBefore(t0) || t.isAfter(t1), "time " + i + " " + t + " is the ESP's creation");
            }

            // the host directory tree answers the same, byte for byte but for the times
            try (Guest h = new Guest()) {
                SimpleFileSystemProtocol hostFs = new SimpleFileSystemProtocol(h.ctx, hostEsp);
                long hroot = h.openVolume(hostFs.handle());
                assertArrayEquals(withoutTimes(rootInfo), withoutTimes(h.info(hroot, SimpleFileSystemProtocol.FILE_INFO)));
                assertArrayEquals(withoutTimes(efi), withoutTimes(h.readDir(hroot)));
                long hf = h.open(hroot, "\\efi\\LINUX\\uki.EFI", EFI_FILE_MODE_READ);
                assertArrayEquals(withoutTimes(info), withoutTimes(h.info(hf, SimpleFileSystemProtocol.FILE_INFO)));
                assertArrayEquals(h.info(hroot, SimpleFileSystemProtocol.FILE_SYSTEM_INFO),
                        g.info(root, SimpleFileSystemProtocol.FILE_SYSTEM_INFO));
            }

            // reads in pieces: the header, a middle piece across page boundaries, the rest with more asked than left
            assertArrayEquals(Arrays.copyOfRange(disk, 0, 64), g.read(f, 64));
            assertEquals(64, g.position(f));
            assertEquals(EfiStatus.SUCCESS, g.call("File.SetPosition", f, 4000));
            assertArrayEquals(Arrays.copyOfRange(disk, 4000, 4000 + 9000), g.read(f, 9000));
            assertEquals(13000, g.position(f));
            assertEquals(EfiStatus.SUCCESS, g.call("File.SetPosition", f, 0));
            assertArrayEquals(disk, g.read(f, disk.length + 4096L), "the whole file, straight into guest memory");
            assertEquals(disk.length, g.position(f));
            assertArrayEquals(new byte[0], g.read(f, 100), "at the end: 0 bytes");
            assertEquals(EfiStatus.SUCCESS, g.call("File.SetPosition", f, 0xFFFFFFFFFFFFFFFFL));
            assertEquals(disk.length, g.position(f), "SetPosition(-1): the end of the file");

            // LoadImage's path to the same file
            HostFileSystem fs = g.platform.firmware().images().fileSystem(esp.handle());
            assertArrayEquals(disk, fs.readFile("\\EFI\\LINUX\\UKI.EFI", disk.length));
            assertThrows(org.kexecmeasured.util.BadInputException.class,
                    () -> fs.readFile("\\EFI\\Linux\\Uki.efi", disk.length - 1));
            assertEquals(null, fs.readFile("\\EFI\\Linux", disk.length), "a directory is no file");
            assertEquals(null, fs.readFile("\\EFI\\Linux\\Uki.efi.extra.d", disk.length));
            assertEquals(-EfiStatus.NOT_FOUND, g.open(root, "\\EFI\\Linux\\Uki.efi.extra.d", EFI_FILE_MODE_READ));
            assertEquals(-EfiStatus.NOT_FOUND, g.open(root, "\\EFI\\Linux\\Uki.efi\\x", EFI_FILE_MODE_READ));
            assertEquals(-EfiStatus.NOT_FOUND, g.open(root, "\\loader\\addons", EFI_FILE_MODE_READ));
            assertEquals(EfiStatus.SUCCESS, g.call("File.Close", f));
        }
    }

    @Test
    void writingIsRefusedAndAReadIntoMemoryTheGuestCannotWriteIsRefusedBeforeAnything() throws Exception {
        Path file = payloadFile("payload.bin", (1 << 20) + 4096 + 17);
        byte[] disk = Files.readAllBytes(file);
        try (PayloadFile payload = PayloadFile.open(file); Guest g = new Guest()) {
            SynthesizedEsp esp = new SynthesizedEsp(g.ctx, g.platform.firmware().images(), "x", payload.buffer());
            long root = g.openVolume(esp.handle());
            String path = esp.filePath();
            assertEquals(-EfiStatus.WRITE_PROTECTED, g.open(root, path, EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE));
            assertEquals(-EfiStatus.WRITE_PROTECTED, g.open(root, "\\EFI\\Linux\\new.efi",
                    EFI_FILE_MODE_CREATE | EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE));
            assertEquals(-EfiStatus.WRITE_PROTECTED, g.open(root, "\\loader\\random-seed",
                    EFI_FILE_MODE_CREATE | EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE));
            long f = g.open(root, path, EFI_FILE_MODE_READ);
            long size = g.pool(8);
            g.m.putU64(size, 4);
            long buf = g.pool(4);
            g.m.write(buf, new byte[]{1, 2, 3, 4});
            assertEquals(EfiStatus.WRITE_PROTECTED, g.call("File.Write", f, size, buf));
            assertEquals(EfiStatus.WRITE_PROTECTED, g.call("File.SetInfo", f, g.guid(SimpleFileSystemProtocol.FILE_INFO),
                    size, buf));
            assertEquals(EfiStatus.SUCCESS, g.call("File.Flush", f));

            // a read whose destination runs into the firmware's read-execute trap page: refused, nothing read
            long trap = Machine.TRAP_BASE;
            byte[] trapBefore = g.m.read(trap, 4096);
            g.m.putU64(size, 8192);
            GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> g.call("File.Read", f, size, trap - 4096));
            assertTrue(e.getMessage().contains("File.Read"), e.getMessage());
            assertArrayEquals(trapBefore, g.m.read(trap, 4096));
            assertEquals(0, g.position(f), "the refused read moved nothing");

            // Delete closes the handle and fails with a warning: the file is still there, with the same bytes
            assertEquals(EFI_WARN_DELETE_FAILURE, g.call("File.Delete", f));
            assertThrows(ServiceException.class, () -> g.position(f), "Delete closed the handle");
            long again = g.open(root, path, EFI_FILE_MODE_READ);
            assertArrayEquals(disk, g.read(again, disk.length));
            assertArrayEquals(disk, Files.readAllBytes(file), "the payload file is unchanged");
        }
    }

    /**
     * The lease's backstop holds for these reads: the file of a mapped payload truncated under the mapping (here: its
     * lease released first, so the test need not wait out a writer's 45 s) makes a guest's File.Read fail as the JVM's
     * InternalError that {@code cli.Main} turns into exit 2 ({@link PayloadFile#isTruncatedMappingFault}): every copy
     * out of the view is a Java read. A native read (the engine's write from the mapping's address) would end the
     * process with SIGBUS, and this test with it.
     */
    @Test
    void aReadOfATruncatedMappingIsTheJvmsFaultNotACrash() throws Exception {
        Path file = payloadFile("payload.bin", (2 << 20) + 100);
        ByteBuffer mapping;
        try (PayloadFile pf = PayloadFile.open(file)) {
            assertEquals(PayloadFile.Source.MAPPED, pf.source(), pf.describeSource());
            mapping = pf.buffer();
        } // the lease is released here, the mapping stays
        try (Guest g = new Guest()) {
            SynthesizedEsp esp = new SynthesizedEsp(g.ctx, g.platform.firmware().images(), "t", mapping);
            long f = g.open(g.openVolume(esp.handle()), esp.filePath(), EFI_FILE_MODE_READ);
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(0);
            }
            long size = g.pool(8);
            long buf = g.pool(mapping.capacity());
            InternalError fault = null;
            try {
                // from compiled code the JVM reports the fault at the thread's next transition: repeat, with sleeps
                for (int round = 0; round < 1000; round++) {
                    assertEquals(EfiStatus.SUCCESS, g.call("File.SetPosition", f, 0));
                    g.m.putU64(size, mapping.capacity());
                    g.call("File.Read", f, size, buf);
                    g.m.read(buf, mapping.capacity());
                    Thread.sleep(1);
                }
            } catch (InternalError e) {
                fault = e;
            }
            assertTrue(PayloadFile.isTruncatedMappingFault(fault), String.valueOf(fault));
        }
    }

    @Test
    void noTemporaryDirectoryIsCreatedForTheSynthesizedEsp() throws Exception {
        Path file = payloadFile("payload.bin", (2 << 20) + 1);
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        // a name no other run uses: the old tree was <tmp>/kexec-measured-esp-*/EFI/Linux/<name>
        String unique = "esp-" + Long.toHexString(new Random().nextLong()) + ".efi";
        List<Path> before = listing(tmp);
        try (PayloadFile payload = PayloadFile.open(file);
             Platform p = Platform.create(EmulatorOptions.builder().ramSize(64L << 20).payloadName(unique).build())) {
            Platform.BootDevice d = p.bootDevice(payload.buffer());
            assertEquals("\\EFI\\Linux\\" + unique, d.filePath());
            try (Stream<Path> s = Files.walk(tmp, 4)) {
                List<Path> copies = s.filter(x -> x.getFileName() != null && x.getFileName().toString().equals(unique))
                        .toList();
                assertEquals(List.of(), copies, "no copy of the payload on the host's file system");
            } catch (java.io.UncheckedIOException ignored) {
                // another process removed a directory while the walk was in it: look at the top level only
            }
            List<Path> during = listing(tmp);
            assertTrue(during.stream().filter(x -> !before.contains(x)).noneMatch(x -> isEspCopyOf(x, unique)),
                    "no new temporary ESP holding the payload: " + during);
        }
        assertTrue(Files.exists(file));
    }

    private static List<Path> listing(Path tmp) throws Exception {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.toList();
        }
    }

    private static boolean isEspCopyOf(Path p, String unique) {
        return Files.exists(p.resolve("EFI").resolve("Linux").resolve(unique));
    }

    /** A host tree reports each file's own time and size, as before (the synthesized ESP's times are its creation). */
    @Test
    void theHostTreeReportsTheHostFilesTime() throws Exception {
        Path esp = Files.createDirectories(dir.resolve("esp"));
        Path f = Files.writeString(esp.resolve("a.txt"), "abc");
        Instant t = Instant.parse("2024-02-29T12:34:56Z");
        Files.setLastModifiedTime(f, FileTime.from(t));
        try (Guest g = new Guest()) {
            SimpleFileSystemProtocol fs = new SimpleFileSystemProtocol(g.ctx, esp);
            long root = g.openVolume(fs.handle());
            byte[] listed = g.readDir(root);
            assertEquals("a.txt", name(listed));
            for (int i = 0; i < 3; i++) {
                assertEquals(t, time(listed, i));
            }
            assertEquals(3, ByteBuffer.wrap(listed).order(ByteOrder.LITTLE_ENDIAN).getLong(8));
            assertEquals(512, ByteBuffer.wrap(listed).order(ByteOrder.LITTLE_ENDIAN).getLong(16), "PhysicalSize");
            assertArrayEquals("abc".getBytes(), g.read(g.open(root, "A.TXT", EFI_FILE_MODE_READ), 10));
        }
    }
}
