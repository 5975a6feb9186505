package org.kexecmeasured.eventlog.runtime;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * systemd's JSON-SEQ userspace log in the shape systemd-pcrlock reads (0x1E before each record). The
 * digests in the sample are computed by openssl here, not by the code under test.
 */
class SystemdMeasureLogTest {

    private static String sha256(String s) {
        String out = RealParts.run(List.of("sh", "-c", "printf '%s' '" + s + "' | openssl dgst -sha256 -r"), "openssl");
        return out.split(" ")[0].strip();
    }

    @Test
    void recordsInFileOrderWithTheirDigestsAndRawBytes() {
        String d1 = sha256("enter-initrd"), d2 = sha256("leave-initrd");
        String r1 = "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"" + d1 + "\"},{\"hashAlg\":\"sha3_256\",\"digest\":\"00\"}],"
                + "\"content_type\":\"systemd\",\"content\":{\"eventType\":\"phase\",\"string\":\"enter-initrd\"}}\n";
        String r2 = "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"" + d2 + "\"}],"
                + "\"content_type\":\"systemd\",\"content\":{\"eventType\":\"phase\",\"string\":\"leave-initrd\"}}\n";
        byte[] log = ("\u001e" + r1 + "\u001e" + r2).getBytes(StandardCharsets.UTF_8);
        List<RuntimeRecord> r = SystemdMeasureLog.parse(log);
        assertEquals(2, r.size());
        assertEquals("phase enter-initrd", r.get(0).description());
        assertEquals(d1, Hex.of(r.get(0).digests().get(HashAlg.SHA256)));
        assertFalse(r.get(0).digests().containsKey(HashAlg.SHA1), "a bank the record does not give stays absent");
        assertEquals(d2, Hex.of(r.get(1).digests().get(HashAlg.SHA256)));
        assertArrayEquals(r2.getBytes(StandardCharsets.UTF_8), r.get(1).raw());
        assertEquals(RuntimeRecord.Source.SYSTEMD, r.get(1).source());
    }

    @Test
    void malformedRecordsAreRefusedNamingTheRecord() {
        for (String bad : List.of("\u001e{\"pcr\":24,\"digests\":[]}", "\u001e{\"pcr\":11}", "\u001enot json",
                "\u001e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"abcd\"}]}", "x\u001e{}")) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> SystemdMeasureLog.parse(bad.getBytes(StandardCharsets.UTF_8)), bad);
            assertTrue(e.getMessage().startsWith("systemd TPM measurement log"), e.getMessage());
        }
        assertEquals(0, SystemdMeasureLog.parse(new byte[0]).size());
    }
}
