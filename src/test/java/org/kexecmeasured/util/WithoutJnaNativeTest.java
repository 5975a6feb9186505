package org.kexecmeasured.util;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link HashAlg}'s digests and {@link ByteViews}' comparisons work when JNA's native part cannot be loaded (its
 * libjnidispatch neither on the system nor unpackable): {@link NativeDigest} and {@code ByteViews}' memcmp are
 * optimizations with the JDK as fallback, and a failing {@code Native.register} in their class initialization made
 * every digest throw NoClassDefFoundError instead (review of session 8). In a child JVM, the JDK's MessageDigest the
 * oracle.
 */
class WithoutJnaNativeTest {

    /** The child: prints "ok" when every bank's digest is the JDK's and the comparisons answer, else throws. */
    public static void main(String[] args) throws Exception {
        try {
            Class.forName("com.sun.jna.Native"); // proves the set-up: JNA's native part must be unloadable here
            throw new IllegalStateException("JNA's native part loaded: the test's set-up does not hold");
        } catch (LinkageError expected) {
            // what the test is about
        }
        byte[] data = "kexec-measured".getBytes(StandardCharsets.US_ASCII);
        for (HashAlg a : List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512)) {
            byte[] want = MessageDigest.getInstance(a.jcaName).digest(data);
            if (!MessageDigest.isEqual(want, a.digest(data))) throw new AssertionError(a + " digest differs");
            byte[] pcr = new byte[a.size];
            byte[] both = new byte[2 * a.size];
            System.arraycopy(want, 0, both, a.size, a.size);
            if (!MessageDigest.isEqual(MessageDigest.getInstance(a.jcaName).digest(both), a.extend(pcr, want))) {
                throw new AssertionError(a + " extend differs");
            }
        }
        byte[] big = new byte[ByteViews.NATIVE_AT_LEAST * 2];
        big[7] = 7;
        if (!ByteViews.sameContent(ByteBuffer.wrap(big), ByteBuffer.wrap(big.clone()))) throw new AssertionError("same");
        if (ByteViews.sameContent(ByteBuffer.wrap(big), ByteBuffer.wrap(new byte[big.length]))) {
            throw new AssertionError("different");
        }
        System.out.println("ok");
    }

    @Test
    void digestsAndComparisonsFallBackToTheJdkWithoutJnasNativePart() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djna.nounpack=true", "-Djna.nosys=true", "-Djna.boot.library.path=/nonexistent",
                "-cp", System.getProperty("java.class.path"), WithoutJnaNativeTest.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertEquals("ok", out.strip());
    }
}
