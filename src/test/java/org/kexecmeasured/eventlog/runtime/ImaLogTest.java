package org.kexecmeasured.eventlog.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * IMA's binary list from a real guest (tests/e2e) replays to the PCR 10 values its TPM reported, in both
 * banks; evmctl (ima-evm-utils) checks the same list against the same values as a second, live oracle.
 */
class ImaLogTest {

    static byte[] resource(String name) throws IOException {
        try (InputStream in = ImaLogTest.class.getResourceAsStream(name)) {
            if (in == null) throw new AssertionError("test resource " + name + " missing");
            return in.readAllBytes();
        }
    }

    /** "bank pcr HEX" lines → bank → value. */
    static Map<String, String> pcr10() throws IOException {
        Map<String, String> m = new TreeMap<>();
        for (String l : new String(resource("qemu-ovmf-uki-ima.pcr10"), StandardCharsets.US_ASCII).split("\n")) {
            String[] f = l.trim().split(" ");
            m.put(f[0], f[2].toLowerCase());
        }
        return m;
    }

    static byte[] replay(List<RuntimeRecord> records, HashAlg a) {
        byte[] pcr = new byte[a.size];
        for (RuntimeRecord r : records) pcr = a.extend(pcr, r.digests().get(a));
        return pcr;
    }

    @Test
    void realListReplaysToTheTpmsPcr10InBothBanks() throws IOException {
        List<RuntimeRecord> r = ImaLog.parse(resource("qemu-ovmf-uki-ima.bin"), List.of(HashAlg.SHA1, HashAlg.SHA256));
        assertEquals(1, r.size());
        assertEquals(10, r.get(0).pcr());
        assertTrue(r.get(0).description().endsWith("boot_aggregate"), r.get(0).description());
        Map<String, String> tpm = pcr10();
        assertEquals(tpm.get("sha1"), Hex.of(replay(r, HashAlg.SHA1)));
        assertEquals(tpm.get("sha256"), Hex.of(replay(r, HashAlg.SHA256)));
        assertEquals(106, r.get(0).raw().length, "the record is the whole entry");
    }

    @Test
    void evmctlAgreesOnTheSameListAndValues(@TempDir Path dir) throws IOException {
        Path list = dir.resolve("ima.bin");
        Files.write(list, resource("qemu-ovmf-uki-ima.bin"));
        Map<String, String> tpm = pcr10();
        Path good = pcrFile(dir.resolve("good"), tpm.get("sha256"));
        RealParts.Result ok = RealParts.runAny(List.of("evmctl", "ima_measurement", "--pcrs", "sha256," + good, list.toString()),
                "ima-evm-utils");
        assertEquals(0, ok.exit(), ok.stdout() + ok.stderr());
        // and evmctl does fail on a value our replay does not give either
        String other = Hex.of(HashAlg.SHA256.digest("not the list".getBytes(StandardCharsets.UTF_8)));
        Path bad = pcrFile(dir.resolve("bad"), other);
        RealParts.Result no = RealParts.runAny(List.of("evmctl", "ima_measurement", "--pcrs", "sha256," + bad, list.toString()),
                "ima-evm-utils");
        assertNotEquals(0, no.exit());
        assertNotEquals(other, Hex.of(replay(ImaLog.parse(Files.readAllBytes(list), List.of(HashAlg.SHA256)), HashAlg.SHA256)));
    }

    private static Path pcrFile(Path f, String pcr10) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            sb.append(String.format("PCR-%02d: %s%n", i, i == 10 ? pcr10.toUpperCase() : "00".repeat(32)));
        }
        Files.writeString(f, sb);
        return f;
    }

    @Test
    void aDamagedListIsRefusedNamingTheRecord() throws IOException {
        byte[] good = resource("qemu-ovmf-uki-ima.bin");
        byte[] two = new byte[good.length * 2];
        System.arraycopy(good, 0, two, 0, good.length);
        System.arraycopy(good, 0, two, good.length, good.length);
        assertEquals(2, ImaLog.parse(two, List.of(HashAlg.SHA256)).size());

        BadInputException e = assertThrows(BadInputException.class,
                () -> ImaLog.parse(Arrays.copyOf(two, two.length - 3), List.of(HashAlg.SHA256)));
        assertTrue(e.getMessage().contains("record 1 at offset " + good.length), e.getMessage());

        byte[] flipped = two.clone();
        flipped[two.length - 1] ^= 1; // the file name of the second entry
        e = assertThrows(BadInputException.class, () -> ImaLog.parse(flipped, List.of(HashAlg.SHA256)));
        assertTrue(e.getMessage().contains("record 1") && e.getMessage().contains("not the SHA-1 of its data"), e.getMessage());

        byte[] hugeName = good.clone();
        hugeName[24] = (byte) 0xff;
        hugeName[25] = (byte) 0xff;
        e = assertThrows(BadInputException.class, () -> ImaLog.parse(hugeName, List.of(HashAlg.SHA256)));
        assertTrue(e.getMessage().contains("template name length"), e.getMessage());
    }

    @Test
    void aViolationExtendsAllOnes() throws IOException {
        byte[] v = resource("qemu-ovmf-uki-ima.bin");
        Arrays.fill(v, 4, 24, (byte) 0); // IMA lists a violation with a zero template digest
        RuntimeRecord r = ImaLog.parse(v, List.of(HashAlg.SHA1, HashAlg.SHA256)).get(0);
        byte[] ones = new byte[32];
        Arrays.fill(ones, (byte) 0xff);
        assertEquals(Hex.of(ones), Hex.of(r.digests().get(HashAlg.SHA256)));
        assertTrue(r.description().startsWith("violation"));
    }
}
