package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.HashAlg;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Large data seen twice in one run (the UKI's .initrd measured by systemd-stub, then the same bytes
 * served by LoadFile2 and measured by the Linux stub) is hashed once per bank; different bytes of the
 * same length are hashed again. Oracle: the JDK's MessageDigest over the same bytes.
 */
class HashingTest {

    private static final List<HashAlg> BANKS = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);

    @Test
    void identicalLargeDataIsHashedOnceAndDifferentDataAgain() {
        byte[] a = new byte[Hashing.LARGE + 4097];
        new Random(3).nextBytes(a);
        byte[] copy = a.clone();
        byte[] changed = a.clone();
        changed[changed.length - 1] ^= 1;

        Hashing h = new Hashing(BANKS);
        Map<HashAlg, byte[]> first = h.digest(a);
        Map<HashAlg, byte[]> again = h.digest(ByteBuffer.wrap(copy).asReadOnlyBuffer());
        assertEquals(a.length, h.bytes(), "the second, identical input was not hashed");
        assertEquals(a.length, h.reusedBytes());
        Map<HashAlg, byte[]> other = h.digest(changed);
        assertEquals(2L * a.length, h.bytes(), "one changed byte: hashed again");
        for (HashAlg alg : BANKS) {
            byte[] expected = alg.newDigest().digest(a);
            assertArrayEquals(expected, first.get(alg), alg.name());
            assertArrayEquals(expected, again.get(alg), alg.name());
            assertArrayEquals(alg.newDigest().digest(changed), other.get(alg), alg.name());
        }
    }

    @Test
    void smallDataIsNotRemembered() {
        Hashing h = new Hashing(BANKS);
        byte[] b = "Exit Boot Services Invocation".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        h.digest(b);
        h.digest(b.clone());
        assertEquals(2L * b.length, h.bytes());
        assertEquals(0, h.reusedBytes());
    }

    @Test
    void aBufferIsNotMovedByHashing() {
        byte[] a = new byte[100];
        ByteBuffer b = ByteBuffer.wrap(a, 10, 50);
        Map<HashAlg, byte[]> d = new Hashing(BANKS).digest(b);
        assertEquals(10, b.position());
        assertArrayEquals(HashAlg.SHA256.newDigest().digest(java.util.Arrays.copyOfRange(a, 10, 60)), d.get(HashAlg.SHA256));
    }
}
