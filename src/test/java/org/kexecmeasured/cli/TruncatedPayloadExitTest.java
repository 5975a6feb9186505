package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmOpener;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Java read of the mapped payload after the file was truncated under the mapping ends as the JVM's InternalError
 * (review-s5 finding 2's rest). The CLI calls that bad input, exit 2 in one line, while no PCR was extended, and
 * leaves it at exit 70 once one was, so that an exit 2 ("nothing changed") never stands where the TPM changed.
 *
 * <p>The truncated mapping is a real {@link PayloadFile} mapped under a real read lease, which is then released (the
 * mapping stays) so that the test can truncate the file at once instead of a writer waiting out the lease's 45 s;
 * the InternalError is the JVM's own. It is raised inside a real command ({@code tpm info}) on a real swtpm, from
 * the TPM connection's {@code info()} (the seam: the command's TPM comes from {@link Services}); tpm2_pcrread is the
 * oracle for whether the TPM changed.
 */
class TruncatedPayloadExitTest {

    @RegisterExtension
    static SwtpmExtension SWTPM = SwtpmExtension.withBanks("sha256");

    @TempDir
    Path dir;

    /** A payload file mapped under its lease, then truncated to nothing: reading its buffer faults. */
    private ByteBuffer truncatedMapping() throws Exception {
        Path f = dir.resolve("payload.efi");
        Files.write(f, new byte[1 << 20]);
        ByteBuffer b;
        try (PayloadFile pf = PayloadFile.open(f)) {
            assertEquals(PayloadFile.Source.MAPPED, pf.source(), pf.describeSource());
            b = pf.buffer();
        } // the lease is released here, the mapping stays
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(0);
        }
        return b;
    }

    /**
     * Reads the whole buffer until the JVM reports the fault. From compiled code it reports it asynchronously: the
     * read goes on with garbage and the InternalError comes at the thread's next transition (the sleep, a native
     * call), so the reads and the sleeps repeat, all inside the caller's try.
     */
    private static void readUntilFault(ByteBuffer b) {
        for (int round = 0; round < 1000; round++) {
            for (int i = 0; i < b.capacity(); i += 4096) b.get(i);
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        throw new AssertionError("reading a truncated mapping raised no InternalError");
    }

    @Test
    void aRealTruncatedMappingIsRecognizedAndNothingElseIs() throws Exception {
        ByteBuffer b = truncatedMapping();
        InternalError fault = null;
        try {
            readUntilFault(b);
        } catch (InternalError e) {
            fault = e;
        }
        assertTrue(PayloadFile.isTruncatedMappingFault(fault), fault.toString());
        assertFalse(PayloadFile.isTruncatedMappingFault(new InternalError("some other internal error")));
        assertFalse(PayloadFile.isTruncatedMappingFault(new OutOfMemoryError("Java heap space")));
        assertFalse(PayloadFile.isTruncatedMappingFault(new InternalError((String) null)));
    }

    /**
     * The real TPM of the test, whose {@code info()} first runs {@code before} on the real connection and then
     * reads the truncated mapping.
     */
    private Services faultingAfter(java.util.function.Consumer<Tpm> before) throws Exception {
        return faultingAfter(before, TruncatedPayloadExitTest::readUntilFault);
    }

    /** As above, the mapping read by {@code reader}. */
    private Services faultingAfter(java.util.function.Consumer<Tpm> before, java.util.function.Consumer<ByteBuffer> reader)
            throws Exception {
        ByteBuffer mapping = truncatedMapping();
        TpmOpener opener = tcti -> {
            Tpm real = TpmOpener.DEFAULT.open(tcti);
            return (Tpm) Proxy.newProxyInstance(Tpm.class.getClassLoader(), new Class<?>[]{Tpm.class}, (p, m, args) -> {
                if (m.getName().equals("info")) {
                    before.accept(real);
                    reader.accept(mapping);
                }
                try {
                    return m.invoke(real, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            });
        };
        return Services.DEFAULT.withTpm(opener);
    }

    @Test
    void beforeAnyExtendItIsBadInputInOneLine() throws Exception {
        String tcti = SWTPM.swtpm().tcti();
        Map<Integer, String> before = Tpm2Tools.pcrread(tcti, "sha256:all").get("sha256");
        ChainFixtures.Cli c = ChainFixtures.cli(faultingAfter(tpm -> tpm.random(8)),
                "tpm", "info", "--tpm", tcti);
        assertEquals(2, c.rc(), c.err());
        assertEquals(1, c.err().strip().lines().count(), c.err());
        assertTrue(c.err().contains("the payload changed while it was read"), c.err());
        assertFalse(c.err().contains("InternalError"), c.err());
        assertEquals(before, Tpm2Tools.pcrread(tcti, "sha256:all").get("sha256"), "the TPM as it was");
    }

    /**
     * The fault in a worker thread (as in the hashing of a bank group on its own thread) reaches the command wrapped in
     * a CompletionException: still bad input in one line while no PCR was extended (review-s6: it was exit 70).
     */
    @Test
    void inAWorkerThreadBeforeAnyExtendItIsBadInputToo() throws Exception {
        String tcti = SWTPM.swtpm().tcti();
        Map<Integer, String> before = Tpm2Tools.pcrread(tcti, "sha256:all").get("sha256");
        ChainFixtures.Cli c = ChainFixtures.cli(faultingAfter(tpm -> tpm.random(8),
                        b -> java.util.concurrent.CompletableFuture.runAsync(() -> readUntilFault(b)).join()),
                "tpm", "info", "--tpm", tcti);
        assertEquals(2, c.rc(), c.err());
        assertEquals(1, c.err().strip().lines().count(), c.err());
        assertTrue(c.err().contains("the payload changed while it was read"), c.err());
        assertEquals(before, Tpm2Tools.pcrread(tcti, "sha256:all").get("sha256"), "the TPM as it was");
    }

    /** And in a worker after an extend: an internal error, never "nothing changed". */
    @Test
    void inAWorkerThreadAfterAnExtendItStaysAnInternalError() throws Exception {
        String tcti = SWTPM.swtpm().tcti();
        ChainFixtures.Cli c = ChainFixtures.cli(faultingAfter(tpm -> tpm.extend(16, Map.of(HashAlg.SHA256, new byte[32])),
                        b -> java.util.concurrent.CompletableFuture.runAsync(() -> readUntilFault(b)).join()),
                "tpm", "info", "--tpm", tcti);
        assertEquals(70, c.rc(), c.err());
        assertFalse(c.err().contains("nothing"), c.err());
    }

    @Test
    void afterAnExtendItStaysAnInternalErrorNeverNothingChanged() throws Exception {
        String tcti = SWTPM.swtpm().tcti();
        Map<Integer, String> before = Tpm2Tools.pcrread(tcti, "sha256:all").get("sha256");
        ChainFixtures.Cli c = ChainFixtures.cli(faultingAfter(tpm -> tpm.extend(16, Map.of(HashAlg.SHA256, new byte[32]))),
                "tpm", "info", "--tpm", tcti);
        assertNotEquals(before.get(16), Tpm2Tools.pcrread(tcti, "sha256:16").get("sha256").get(16), "PCR 16 was extended");
        assertEquals(70, c.rc(), c.err());
        assertTrue(c.err().contains("internal error"), c.err());
        assertFalse(c.err().contains("nothing"), c.err());
    }
}
