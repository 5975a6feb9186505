package org.kexecmeasured.util;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The capped reader: what it refuses, when, and with which words. */
class BoundedFilesTest {

    @TempDir
    Path tmp;

    static final BoundedFiles.Limit SMALL = new BoundedFiles.Limit("test", "KEXEC_MEASURED_MAX_TEST", 1024);

    @Test
    void regularFileOverTheLimitIsRefusedByItsSize() throws IOException {
        Path f = tmp.resolve("sparse.bin");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(3L << 30); // 3 GiB, no blocks: refusing it must not read it
        }
        BadInputException e = assertThrows(BadInputException.class, () -> BoundedFiles.read(f, SMALL));
        assertTrue(e.getMessage().startsWith(f + ": 3 GiB (3221225472 bytes) is over the 1 KiB test limit"), e.getMessage());
        assertTrue(e.getMessage().contains("KEXEC_MEASURED_MAX_TEST=SIZE raises it"), e.getMessage());
        // open() alone refuses it: nothing is read
        assertThrows(BadInputException.class, () -> BoundedFiles.open(f, SMALL));
    }

    /** Read in 1 MiB pieces (no file-sized temporary buffer): every byte in place, as the JDK's own read gives them. */
    @Test
    void fileOfSeveralPiecesIsReadByteForByte() throws IOException {
        Path f = tmp.resolve("pieces.bin");
        byte[] b = new byte[3 * BoundedFiles.PIECE + 12345];
        new java.util.Random(14).nextBytes(b);
        Files.write(f, b);
        assertArrayEquals(Files.readAllBytes(f), BoundedFiles.read(f, BoundedFiles.PAYLOAD));
    }

    @Test
    void fileAtTheLimitIsReadWhole() throws IOException {
        Path f = tmp.resolve("exact.bin");
        byte[] b = new byte[1024];
        new java.util.Random(1).nextBytes(b);
        Files.write(f, b);
        assertArrayEquals(b, BoundedFiles.read(f, SMALL));
        try (BoundedFiles.Input in = BoundedFiles.open(f, SMALL)) {
            assertTrue(in.isRegularFile() && in.hasKnownSize());
            assertEquals(1024, in.size());
            assertArrayEquals(Arrays.copyOf(b, 16), in.head(16));
            ByteBuffer m = in.map();
            assertTrue(m.isDirect(), "a regular file is mapped, not copied to the heap");
            byte[] back = new byte[m.remaining()];
            m.get(back);
            assertArrayEquals(b, back);
        }
    }

    /** A device is read up to the limit plus one byte: /dev/zero would otherwise never end. */
    @Test
    void endlessDeviceIsRefusedAfterLimitPlusOneBytes() {
        BadInputException e = assertThrows(BadInputException.class, () -> BoundedFiles.read(Path.of("/dev/zero"), SMALL));
        assertEquals("/dev/zero: more than 1 KiB from a character device, over the 1 KiB test limit "
                + "(KEXEC_MEASURED_MAX_TEST=SIZE raises it, up to 2047M)", e.getMessage());
    }

    @Test
    void pipeIsCountedAsItIsReadAndItsHeadIsNotLost() throws Exception {
        Path fifo = tmp.resolve("p.fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor(), "mkfifo (coreutils)");
        AtomicLong written = new AtomicLong();
        Thread w = writer(fifo, 4096, written);
        BadInputException e = assertThrows(BadInputException.class, () -> BoundedFiles.read(fifo, SMALL));
        assertTrue(e.getMessage().contains("more than 1 KiB from a FIFO"), e.getMessage());
        w.join(10_000);
        // a short pipe: head first, then the rest, nothing lost or doubled
        Path fifo2 = tmp.resolve("q.fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo2.toString()).start().waitFor());
        Thread w2 = writer(fifo2, 700, new AtomicLong());
        try (BoundedFiles.Input in = BoundedFiles.open(fifo2, SMALL)) {
            assertEquals("FIFO", in.kind());
            assertFalse(in.hasKnownSize());
            byte[] head = in.head(100);
            assertEquals(100, head.length);
            byte[] all = in.readAll();
            assertEquals(700, all.length);
            for (int i = 0; i < all.length; i++) assertEquals((byte) i, all[i], "byte " + i);
        }
        w2.join(10_000);
    }

    /** procfs and securityfs files say 0 bytes in stat and still have content (the firmware log is one). */
    @Test
    void fileWhoseStatSizeIsZeroIsReadAsAStream() {
        byte[] v = BoundedFiles.read(Path.of("/proc/version"), SMALL);
        assertTrue(new String(v, java.nio.charset.StandardCharsets.US_ASCII).startsWith("Linux version"), new String(v));
    }

    @Test
    void missingDirectoryAndUnreadableAreNamed() throws IOException {
        assertEquals(tmp.resolve("nope") + ": no such file",
                assertThrows(BadInputException.class, () -> BoundedFiles.read(tmp.resolve("nope"), SMALL)).getMessage());
        assertEquals(tmp + ": is a directory, not a file",
                assertThrows(BadInputException.class, () -> BoundedFiles.read(tmp, SMALL)).getMessage());
    }

    @Test
    void sizesParseWithBinarySuffixesAndRefuseNonsense() {
        assertEquals(64L << 20, BoundedFiles.parseSize("64M", "X"));
        assertEquals(64L << 20, BoundedFiles.parseSize("64MiB", "X"));
        assertEquals(1L << 30, BoundedFiles.parseSize(" 1g ", "X"));
        assertEquals(512L << 10, BoundedFiles.parseSize("512k", "X"));
        assertEquals(1000, BoundedFiles.parseSize("1000", "X"));
        assertEquals(1000, BoundedFiles.parseSize("1000B", "X"));
        for (String bad : new String[]{"", "M", "-1", "1.5G", "5T", "lots", "99999999999999999999"}) {
            assertThrows(BadInputException.class, () -> BoundedFiles.parseSize(bad, "X"), bad);
        }
        assertEquals("1.5 GiB", BoundedFiles.formatSize(3L << 29));
        assertEquals("32 MiB", BoundedFiles.formatSize(32L << 20));
        assertEquals("100 bytes", BoundedFiles.formatSize(100));
    }

    @Test
    void theEnvironmentVariableMovesTheLimitWithinTheCeiling() {
        assertEquals(1024, SMALL.bytes(Map.of()));
        assertEquals(2L << 20, SMALL.bytes(Map.of("KEXEC_MEASURED_MAX_TEST", "2M")));
        assertEquals("KEXEC_MEASURED_MAX_TEST=2G: must be between 1 byte and 2047M",
                assertThrows(BadInputException.class, () -> SMALL.bytes(Map.of("KEXEC_MEASURED_MAX_TEST", "2G"))).getMessage());
        assertThrows(BadInputException.class, () -> SMALL.bytes(Map.of("KEXEC_MEASURED_MAX_TEST", "0")));
        assertThrows(IllegalArgumentException.class, () -> new BoundedFiles.Limit("x", "OTHER_NAME", 10), "one naming scheme");
    }

    /** The help text lists each limit with its real default (it is a constant, so it could drift). */
    @Test
    void helpTextMatchesTheLimits() {
        for (BoundedFiles.Limit l : new BoundedFiles.Limit[]{BoundedFiles.PAYLOAD, BoundedFiles.EVENTLOG, BoundedFiles.CERTIFICATE, BoundedFiles.TEXT}) {
            Matcher m = Pattern.compile(l.env() + " \\(default ([0-9]+[KMG])\\)").matcher(BoundedFiles.HELP_LIMITS);
            assertTrue(m.find(), l.env() + " in " + BoundedFiles.HELP_LIMITS);
            assertEquals(l.defaultBytes(), BoundedFiles.parseSize(m.group(1), l.env()), l.env());
        }
    }

    private static Thread writer(Path fifo, int n, AtomicLong written) {
        Thread t = new Thread(() -> {
            try (OutputStream o = new FileOutputStream(fifo.toFile())) {
                for (int i = 0; i < n; i++) {
                    o.write(i);
                    written.incrementAndGet();
                }
            } catch (IOException readerGone) {
                // the reader refused and closed: expected for the long writer
            }
        });
        t.setDaemon(true);
        t.start();
        return t;
    }
}
