package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class BoundaryEventTest {
    @Test
    void recordLayoutFollowsTheSpec() throws Exception {
        byte[] nonce = new byte[16];
        nonce[15] = 1;
        BoundaryEvent b = new BoundaryEvent("1.0", Instant.parse("2026-11-26T06:30:00.123Z"), nonce,
                new byte[32], "builtin-default-1", new TreeSet<>(List.of(13, 4, 11)));
        String text = new String(b.data(), StandardCharsets.UTF_8);
        assertEquals("kexec-measured-boundary=1\ntool=kexec-measured 1.0\ntime=2026-11-26T06:30:00Z\n"
                + "nonce=00000000000000000000000000000001\npayload=" + "00".repeat(32) + "\n"
                + "policy=builtin-default-1\npcrs=4,11,13\n", text);
        byte[] ev = b.taggedEvent();
        assertArrayEquals(new byte[]{0x42, 0x4D, 0x58, 0x4B}, java.util.Arrays.copyOf(ev, 4));
        assertEquals(b.data().length, (ev[4] & 0xff) | (ev[5] & 0xff) << 8);

        List<Measurement> ms = b.measurements(List.of(HashAlg.SHA256, HashAlg.SHA384));
        assertEquals(List.of(4, 11, 13), ms.stream().map(Measurement::pcr).toList());
        for (Measurement m : ms) {
            assertEquals(6, m.eventType());
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(b.data()), m.digests().get(HashAlg.SHA256));
            assertArrayEquals(MessageDigest.getInstance("SHA-384").digest(b.data()), m.digests().get(HashAlg.SHA384));
        }
    }

    @Test
    void nonceMakesEveryBoundaryDistinct() {
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        byte[] n2 = new byte[16];
        n2[0] = 7;
        var a = new BoundaryEvent("1", t, new byte[16], new byte[32], "p", new TreeSet<>(List.of(11)));
        var c = new BoundaryEvent("1", t, n2, new byte[32], "p", new TreeSet<>(List.of(11)));
        assertNotEquals(java.util.HexFormat.of().formatHex(HashAlg.SHA256.digest(a.data())),
                java.util.HexFormat.of().formatHex(HashAlg.SHA256.digest(c.data())));
    }
}
