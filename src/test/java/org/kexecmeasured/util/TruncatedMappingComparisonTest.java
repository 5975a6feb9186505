package org.kexecmeasured.util;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.PayloadFile;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A comparison that reads the payload's mapping after its file was truncated (a writer broke the read lease and its
 * wait ran out) must end as the JDK's {@link InternalError} that the CLI turns into exit 2, never as a SIGBUS in
 * libc's {@code memcmp} that kills the JVM without an exit code (review of session 8, finding 1). In a child JVM: the
 * fault, were it native, would end this one.
 */
class TruncatedMappingComparisonTest {

    /** The child: maps args[0] (1 MiB), registers it as PayloadFile does, truncates it, compares; prints the outcome. */
    public static void main(String[] args) throws Exception {
        Path f = Path.of(args[0]);
        ByteBuffer m;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
            ByteViews.fileMapped(m);
            ch.truncate(0);
        }
        ByteBuffer other = ByteBuffer.allocateDirect(m.capacity());
        try {
            System.out.println("compared: " + ByteViews.sameContent(m.duplicate(), other));
        } catch (InternalError e) {
            System.out.println(PayloadFile.isTruncatedMappingFault(e) ? "truncated-mapping-fault" : "other: " + e);
        }
        try {
            System.out.println("held: " + ByteViews.holds(com.sun.jna.Native.getDirectBufferPointer(other), m.duplicate()));
        } catch (InternalError e) {
            System.out.println(PayloadFile.isTruncatedMappingFault(e) ? "truncated-mapping-fault" : "other: " + e);
        }
    }

    @Test
    void aTruncatedFileMappingIsComparedByTheJdkAndFaultsAsAnInternalError(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("payload");
        Files.write(f, new byte[1 << 20]);
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), TruncatedMappingComparisonTest.class.getName(),
                f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "the child died (a native read of the truncated mapping?): " + out);
        assertEquals("truncated-mapping-fault\ntruncated-mapping-fault", out.strip(), out);
    }

    @Test
    void thePayloadsMappingIsRegisteredAndOtherNativeMemoryIsNot(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("payload");
        Files.write(f, new byte[3 << 20]);
        try (PayloadFile p = PayloadFile.open(f)) {
            // root or the file's owner gets a lease here, so the file is mapped (ReadLeaseTest)
            assertEquals(PayloadFile.Source.MAPPED, p.source());
            ByteBuffer b = p.buffer();
            assertTrue(ByteViews.isFileMapped(b));
            assertTrue(ByteViews.isFileMapped(b.position(b.capacity() - 1)));
            assertFalse(ByteViews.isFileMapped(ByteBuffer.allocateDirect(1 << 20)));
        }
    }
}
