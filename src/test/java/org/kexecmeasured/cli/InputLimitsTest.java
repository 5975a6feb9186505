package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.EventType;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.HashAlg;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Inputs too large, endless or of the wrong kind (issue 10 items 7 and 10): every one ends in
 * exit 2 with one line naming the file and, for sizes, the limit and the variable that raises it;
 * a JVM Error in exit 70 with one line. Heap-bound cases run in a child JVM with a small -Xmx,
 * started as the launcher starts the tool.
 */
class InputLimitsTest {

    @TempDir
    static Path tmp;

    /** Exit code 2, exactly one line on stderr, no Java in it. */
    static void assertOneLineBadInput(int rc, String err, String... fragments) {
        assertEquals(Main.EXIT_BAD_INPUT, rc, err);
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertTrue(err.startsWith("kexec-measured: error: "), err);
        assertFalse(err.contains("Exception") || err.contains("\tat ") || err.contains("Error:"), err);
        for (String f : fragments) assertTrue(err.contains(f), "'" + f + "' in: " + err);
    }

    @Test
    void replayOfDevZeroStopsAtRecordZeroFromAFileAndFromStandardInput() {
        ChildCli.Result f = ChildCli.run(List.of("-Xmx256m"), Map.of(), null, "eventlog", "replay", "/dev/zero");
        assertOneLineBadInput(f.rc(), f.err(), "/dev/zero (character device)", "record 0", "zero");
        ChildCli.Result s = ChildCli.run(List.of("-Xmx256m"), Map.of(), Path.of("/dev/zero"), "eventlog", "replay", "-");
        assertOneLineBadInput(s.rc(), s.err(), "standard input", "record 0");
        assertEquals("", s.out());
    }

    /** A stream of non-zero garbage has no quick tell: it is read up to the limit and refused there. */
    @Test
    void endlessStandardInputIsRefusedAtTheLimit() throws IOException {
        Path junk = tmp.resolve("junk.bin");
        byte[] b = new byte[3 << 20];
        java.util.Arrays.fill(b, (byte) 0x5a);
        Files.write(junk, b);
        ChildCli.Result r = ChildCli.run(List.of("-Xmx64m"), Map.of("KEXEC_MEASURED_MAX_EVENTLOG", "2M"), junk,
                "eventlog", "show", "-");
        assertOneLineBadInput(r.rc(), r.err(), "more than 2 MiB from standard input", "KEXEC_MEASURED_MAX_EVENTLOG");
    }

    @Test
    void replayOfA100MbLogIsRefusedByTheLimitNamingIt() throws IOException {
        Path log = bigLog(tmp.resolve("100m.bin"), 100L << 20);
        ChildCli.Result r = ChildCli.run(List.of("-Xmx256m"), Map.of(), null, "eventlog", "replay", log.toString());
        assertOneLineBadInput(r.rc(), r.err(), log.toString(), "the 32 MiB event-log limit", "KEXEC_MEASURED_MAX_EVENTLOG=SIZE");
    }

    /**
     * A log just under the default limit, shown as JSON in a 256 MiB heap: the view is written record
     * by record (built whole it needed about a gigabyte).
     */
    @Test
    void logAtTheLimitIsShownAsJsonInA256MbHeap() throws IOException {
        Path log = bigLog(tmp.resolve("31m.bin"), 31L << 20);
        ChildCli.Result r = ChildCli.run(List.of("-Xmx256m"), Map.of(), null, false, "eventlog", "show", "--json", log.toString());
        assertEquals(0, r.rc(), r.err());
        assertEquals("", r.err());
        Files.delete(log);
    }

    /** Raising a limit beyond the heap ends in a JVM Error: one line, exit 70, never a stack trace or exit 1. */
    @Test
    void outOfMemoryIsOneLineAndExit70() throws IOException {
        Path log = bigLog(tmp.resolve("60m.bin"), 60L << 20);
        ChildCli.Result r = ChildCli.run(List.of("-Xmx48m"), Map.of("KEXEC_MEASURED_MAX_EVENTLOG", "100M"), null,
                "eventlog", "replay", log.toString());
        assertEquals(Main.EXIT_INTERNAL, r.rc(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("out of memory while running 'eventlog replay'"), r.err());
        assertTrue(r.err().contains("KEXEC_MEASURED_JAVA_OPTS"), r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread"), r.err());
    }

    /**
     * A 300 MB PE (systemd-boot with a 300 MB zero-filled section, a sparse file) in a 256 MiB heap:
     * inspect maps it instead of reading it, and its Authenticode SHA-256 equals pesign's.
     */
    @Test
    void inspectOfA300MbPayloadWorksInA256MbHeap() throws IOException {
        Path pe = bigPe(tmp.resolve("big300.efi"), 300L << 20);
        ChildCli.Result r = ChildCli.run(List.of("-Xmx256m"), Map.of(), null, "inspect", pe.toString(), "--json");
        assertEquals(0, r.rc(), r.err());
        assertEquals("", r.err());
        var report = org.kexecmeasured.util.Json.MAPPER.readTree(r.out());
        assertEquals(Files.size(pe), report.get("size").asLong());
        assertEquals("PE/COFF image", report.get("type").asText());
        assertEquals(RealParts.pesignHash(pe), report.get("authenticode").get("sha256").asText(), "oracle: pesign -h");
    }

    @Test
    void aPayloadOverTheLimitIsRefusedBySizeBeforeReading() throws IOException {
        Path huge = tmp.resolve("huge.efi");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.write(new byte[]{'M', 'Z'});
            f.setLength(3L << 29); // 1.5 GiB, sparse
        }
        ChainFixtures.Cli r = ChainFixtures.cli("inspect", huge.toString());
        assertOneLineBadInput(r.rc(), r.err(), huge.toString(), "1.5 GiB", "the 1 GiB payload limit", "KEXEC_MEASURED_MAX_PAYLOAD=SIZE");
        Files.delete(huge);
        // the variable moves the limit
        Path two = tmp.resolve("two-mib.efi");
        Files.write(two, new byte[2 << 20]);
        ChildCli.Result c = ChildCli.run(List.of(), Map.of("KEXEC_MEASURED_MAX_PAYLOAD", "1M"), null, "inspect", two.toString());
        assertOneLineBadInput(c.rc(), c.err(), "the 1 MiB payload limit");
        ChildCli.Result bad = ChildCli.run(List.of(), Map.of("KEXEC_MEASURED_MAX_PAYLOAD", "lots"), null, "inspect", two.toString());
        assertOneLineBadInput(bad.rc(), bad.err(), "KEXEC_MEASURED_MAX_PAYLOAD=lots: not a size");
    }

    @Test
    void inspectOfDevZeroSaysWhatItIs() {
        ChainFixtures.Cli r = ChainFixtures.cli("inspect", "/dev/zero");
        assertOneLineBadInput(r.rc(), r.err(), "/dev/zero: not a regular file (character device)", "no PE/COFF, bzImage or arm64 Image header");
        ChainFixtures.Cli n = ChainFixtures.cli("inspect", "/dev/null");
        assertOneLineBadInput(n.rc(), n.err(), "/dev/null: not a regular file (character device)", "empty");
    }

    /**
     * A FIFO whose writer never stops: inspect decides from the first 64 KiB and returns (a reader of
     * the whole input would never finish).
     */
    @Test
    void inspectOfAnEndlessPipeStopsAfterItsHeader() throws Exception {
        Path fifo = tmp.resolve("endless.fifo");
        RealParts.run(List.of("mkfifo", fifo.toString()), "coreutils");
        Thread writer = new Thread(() -> {
            byte[] chunk = new byte[1 << 16];
            try (OutputStream o = new FileOutputStream(fifo.toFile())) {
                while (true) o.write(chunk);
            } catch (IOException closedByReader) {
                // the reader went away: done
            }
        }, "endless-writer");
        writer.setDaemon(true);
        writer.start();
        ChainFixtures.Cli r = ChainFixtures.cli("inspect", fifo.toString());
        assertOneLineBadInput(r.rc(), r.err(), "not a regular file (FIFO)", "in the first 65536 bytes");
        writer.join(10_000);
        assertFalse(writer.isAlive(), "the writer saw the reader close");
    }

    @Test
    void emulateWithAnInitrdDirectorySaysItIsADirectory() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("initrd-dir"));
        ChainFixtures.Cli r = ChainFixtures.cli("emulate", RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi").toString(),
                "--initrd", dir.toString());
        assertOneLineBadInput(r.rc(), r.err(), dir + ": is a directory");
    }

    @Test
    void aTctiHostThatDoesNotResolveIsBadInput() {
        // .invalid never resolves (RFC 6761)
        ChainFixtures.Cli r = ChainFixtures.cli("tpm", "info", "--tpm", "swtpm:host=no-such-tpm.invalid,port=2321");
        assertOneLineBadInput(r.rc(), r.err(), "host 'no-such-tpm.invalid' does not resolve");
        ChainFixtures.Cli m = ChainFixtures.cli("tpm", "pcrs", "--tpm", "mssim:host=no-such-tpm.invalid,port=2321");
        assertOneLineBadInput(m.rc(), m.err(), "does not resolve");
    }

    @Test
    void helpNamesTheLimitsAndTheirVariables() {
        for (String[] cmd : new String[][]{{"inspect", "--help"}, {"eventlog", "replay", "--help"}, {"eventlog", "show", "--help"},
                {"eventlog", "findings", "--help"}}) {
            ChainFixtures.Cli r = ChainFixtures.cli(cmd);
            assertEquals(0, r.rc());
            String help = r.out().replaceAll("\\s+", " ");
            assertTrue(help.contains("KEXEC_MEASURED_MAX_PAYLOAD (default 1G)") && help.contains("KEXEC_MEASURED_MAX_EVENTLOG (default 32M)")
                    && help.contains("KEXEC_MEASURED_JAVA_OPTS"), String.join(" ", cmd) + ": " + r.out());
        }
    }

    // ---- inputs built here ----

    /** A crypto-agile SHA-256 log of about {@code size} bytes: the Spec ID record, then one record repeated. */
    static Path bigLog(Path file, long size) throws IOException {
        EventLog one = EventLog.newCryptoAgile(List.of(HashAlg.SHA256))
                .appendMeasured(9, EventType.EV_IPL, "x".repeat(40).getBytes(StandardCharsets.US_ASCII),
                        "kexec-measured input limits".getBytes(StandardCharsets.US_ASCII))
                .build();
        byte[] all = one.toBytes();
        EventLog head = EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build();
        int headLen = head.toBytes().length;
        byte[] record = java.util.Arrays.copyOfRange(all, headLen, all.length);
        try (OutputStream o = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            o.write(all, 0, headLen);
            for (long n = headLen; n + record.length <= size; n += record.length) o.write(record);
        }
        return file;
    }

    /** systemd-boot with one more section ".big" of {@code extra} zero bytes at the end of the file (sparse). */
    static Path bigPe(Path file, long extra) throws IOException {
        byte[] b = RealParts.read(RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi"));
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int coff = bb.getInt(0x3c) + 4;
        int nsec = bb.getShort(coff + 2) & 0xffff;
        int opt = coff + 20;
        int table = opt + (bb.getShort(coff + 16) & 0xffff);
        long sizeOfImage = bb.getInt(opt + 56) & 0xffffffffL;
        long fileAlign = bb.getInt(opt + 36) & 0xffffffffL;
        long sectAlign = bb.getInt(opt + 32) & 0xffffffffL;
        assertTrue(table + 40L * (nsec + 1) <= (bb.getInt(opt + 60) & 0xffffffffL), "room for one more section header");
        long raw = (b.length + fileAlign - 1) / fileAlign * fileAlign;
        long va = (sizeOfImage + sectAlign - 1) / sectAlign * sectAlign;
        int h = table + 40 * nsec;
        bb.put(h, ".big\0\0\0\0".getBytes(StandardCharsets.US_ASCII));
        bb.putInt(h + 8, (int) extra).putInt(h + 12, (int) va).putInt(h + 16, (int) extra).putInt(h + 20, (int) raw);
        bb.putInt(h + 36, 0x40000040); // initialised data, readable
        bb.putShort(coff + 2, (short) (nsec + 1));
        bb.putInt(opt + 56, (int) (va + extra));
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.write(b);
            f.setLength(raw + extra);
        }
        return file;
    }
}
