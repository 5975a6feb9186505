package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.uefi.spi.GuestBytes;
import org.kexecmeasured.uefi.spi.GuestMemory;
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

    /**
     * Guest memory as the engine hands it out: pieces copied into one reused direct (native) buffer, valid
     * only during the callback. The array stands for guest RAM, which the guest may change later.
     */
    private static GuestBytes guest(byte[] ram) {
        return new GuestBytes() {
            final ByteBuffer native_ = ByteBuffer.allocateDirect(GuestMemory.PIECE);

            @Override
            public long length() {
                return ram.length;
            }

            @Override
            public void forEachPiece(java.util.function.Consumer<ByteBuffer> piece) {
                for (int off = 0; off < ram.length; off += GuestMemory.PIECE) {
                    int n = Math.min(GuestMemory.PIECE, ram.length - off);
                    native_.clear();
                    native_.put(ram, off, n).flip();
                    piece.accept(native_.asReadOnlyBuffer());
                }
            }

            @Override
            public byte[] head(int n) {
                return java.util.Arrays.copyOf(ram, Math.min(n, ram.length));
            }

            @Override
            public byte[] toArray() {
                return ram.clone();
            }
        };
    }

    @Test
    void guestDataEqualToAKnownHostCopyIsRememberedByThatCopyNotByGuestMemory() {
        byte[] payload = new byte[3 * GuestMemory.PIECE + 12345];
        new Random(5).nextBytes(payload);
        int off = 777, len = 2 * GuestMemory.PIECE + 999; // a "section": not piece-aligned, several pieces
        byte[] section = java.util.Arrays.copyOfRange(payload, off, off + len);
        byte[] ram = section.clone();

        Hashing h = new Hashing(BANKS);
        h.knownContent(ByteBuffer.wrap(payload, off, len));
        Map<HashAlg, byte[]> measured = h.digest(guest(ram));
        assertEquals(len, h.bytes());
        for (HashAlg alg : BANKS) assertArrayEquals(alg.newDigest().digest(section), measured.get(alg), alg.name());

        // the guest changes its copy afterwards: what was remembered is the host's copy, so the changed guest
        // bytes are hashed afresh, and the original bytes (served again as a host copy) still match the digests
        ram[len / 2] ^= 0x40;
        Map<HashAlg, byte[]> changed = h.digest(guest(ram));
        assertEquals(2L * len, h.bytes(), "changed guest bytes: hashed again");
        Map<HashAlg, byte[]> servedAgain = h.digest(ByteBuffer.wrap(section.clone()).asReadOnlyBuffer());
        assertEquals(2L * len, h.bytes(), "the original bytes, seen again: reused");
        assertEquals(len, h.reusedBytes());
        for (HashAlg alg : BANKS) {
            assertArrayEquals(alg.newDigest().digest(ram), changed.get(alg), alg.name());
            assertArrayEquals(alg.newDigest().digest(section), servedAgain.get(alg), alg.name());
        }
    }

    @Test
    void guestDataDifferingFromTheKnownCopyInItsLastPieceIsNotRemembered() {
        byte[] payload = new byte[2 * GuestMemory.PIECE + 100];
        new Random(6).nextBytes(payload);
        byte[] ram = payload.clone();
        ram[ram.length - 1] ^= 1;

        Hashing h = new Hashing(BANKS);
        h.knownContent(ByteBuffer.wrap(payload));
        h.digest(guest(ram));
        Map<HashAlg, byte[]> host = h.digest(ByteBuffer.wrap(payload).asReadOnlyBuffer());
        assertEquals(2L * payload.length, h.bytes(), "nothing reused: the guest's bytes were not the known copy");
        assertEquals(0, h.reusedBytes());
        assertArrayEquals(HashAlg.SHA384.newDigest().digest(payload), host.get(HashAlg.SHA384));
    }

    @Test
    void guestDataEqualToRememberedDataIsComparedNotHashed() {
        byte[] a = new byte[Hashing.LARGE + 5];
        new Random(7).nextBytes(a);
        Hashing h = new Hashing(BANKS);
        h.digest(a);
        byte[] other = a.clone();
        other[0] ^= 1;
        h.digest(other);
        Map<HashAlg, byte[]> d = h.digest(guest(a.clone()));
        assertEquals(2L * a.length, h.bytes(), "the guest's bytes were remembered already");
        assertEquals(a.length, h.reusedBytes());
        for (HashAlg alg : BANKS) assertArrayEquals(alg.newDigest().digest(a), d.get(alg), alg.name());
    }

    @Test
    void aSectionHashedAheadServesTheGuestsEqualCopyAndOnlyThat() {
        byte[] payload = new byte[3 * GuestMemory.PIECE + 4321];
        new Random(8).nextBytes(payload);
        int off = 513, len = 2 * GuestMemory.PIECE + 77;
        byte[] section = java.util.Arrays.copyOfRange(payload, off, off + len);

        Hashing h = new Hashing(BANKS);
        h.precompute(ByteBuffer.wrap(payload, off, len));
        Map<HashAlg, byte[]> measured = h.digest(guest(section.clone()));
        assertEquals(len, h.bytes(), "hashed once, ahead; the guest's equal copy was compared");
        assertEquals(len, h.reusedBytes());
        for (HashAlg alg : BANKS) assertArrayEquals(alg.newDigest().digest(section), measured.get(alg), alg.name());

        // a guest copy of the same length that differs in one byte is hashed as it is
        byte[] changed = section.clone();
        changed[len - 3] ^= 0x10;
        Map<HashAlg, byte[]> other = h.digest(guest(changed));
        assertEquals(2L * len, h.bytes());
        assertEquals(len, h.reusedBytes());
        for (HashAlg alg : BANKS) assertArrayEquals(alg.newDigest().digest(changed), other.get(alg), alg.name());

        // host bytes equal to the section (the initrd served again) reuse the digests as well
        Map<HashAlg, byte[]> again = h.digest(ByteBuffer.wrap(section.clone()).asReadOnlyBuffer());
        assertEquals(2L * len, h.bytes());
        for (HashAlg alg : BANKS) assertArrayEquals(alg.newDigest().digest(section), again.get(alg), alg.name());
    }

    @Test
    void smallDataIsNotHashedAhead() {
        Hashing h = new Hashing(BANKS);
        h.precompute(ByteBuffer.wrap(new byte[Hashing.LARGE - 1]));
        h.digest(new byte[Hashing.LARGE - 1]);
        assertEquals(Hashing.LARGE - 1, h.bytes());
        assertEquals(0, h.reusedBytes());
    }

    /**
     * The payload's Authenticode digests, the banks split over two threads, over a mapped file: equal to pesign's
     * (sha1 and sha256: pesign knows no sha384) and, for sha384, to one pass of the JDK's digest over the ranges the
     * spec names; the payload's own LoadImage (equal bytes in another array) reuses them without hashing again.
     */
    @Test
    void thePayloadsDigestsSplitOverTwoThreadsAreEveryBanksAndAreReused() throws Exception {
        java.nio.file.Path efi = org.kexecmeasured.payload.RealParts.require(org.kexecmeasured.payload.RealParts.SYSTEMD_BOOT,
                "systemd-boot-efi");
        java.nio.file.Path copy = java.nio.file.Files.createTempFile("hashing-test", ".efi");
        try {
            java.nio.file.Files.copy(efi, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try (org.kexecmeasured.payload.PayloadFile pf = org.kexecmeasured.payload.PayloadFile.open(copy)) {
                Hashing h = new Hashing(BANKS);
                byte[] sha256 = h.payloadAuthenticodeSha256(pf.buffer());
                long hashed = h.bytes();
                assertEquals(org.kexecmeasured.payload.RealParts.pesignHash(copy, "sha256"), org.kexecmeasured.util.Hex.of(sha256));
                Map<HashAlg, byte[]> all = h.authenticode(java.nio.file.Files.readAllBytes(copy));
                assertEquals(hashed, h.bytes(), "the LoadImage of the same bytes was not hashed again");
                assertEquals(org.kexecmeasured.payload.RealParts.pesignHash(copy, "sha1"), org.kexecmeasured.util.Hex.of(all.get(HashAlg.SHA1)));
                assertArrayEquals(sha256, all.get(HashAlg.SHA256));
                java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-384");
                byte[] file = java.nio.file.Files.readAllBytes(copy);
                for (org.kexecmeasured.payload.pe.Authenticode.Range r
                        : org.kexecmeasured.payload.pe.Authenticode.hashedRanges(org.kexecmeasured.payload.pe.PeFile.parse(file))) {
                    md.update(file, (int) r.offset(), (int) r.length());
                }
                assertArrayEquals(md.digest(), all.get(HashAlg.SHA384));
            }
        } finally {
            java.nio.file.Files.deleteIfExists(copy);
        }
    }

    /**
     * The buffer path of a LoadImage (61279cb: the emulator passes the payload's mapping): the mapping itself reuses
     * the payload's digests, and an image of the very same length whose bytes differ (one byte of a section changed)
     * is hashed afresh, equal to pesign's digest of that changed file: the reuse is by content, never by length.
     */
    @Test
    void aBufferImageReusesThePayloadsDigestsOnlyForEqualBytes() throws Exception {
        java.nio.file.Path efi = org.kexecmeasured.payload.RealParts.require(org.kexecmeasured.payload.RealParts.SYSTEMD_BOOT,
                "systemd-boot-efi");
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("hashing-buffer");
        java.nio.file.Path copy = dir.resolve("payload.efi");
        java.nio.file.Path other = dir.resolve("other.efi");
        try {
            java.nio.file.Files.copy(efi, copy);
            byte[] changed = java.nio.file.Files.readAllBytes(efi);
            org.kexecmeasured.payload.pe.PeFile pe = org.kexecmeasured.payload.pe.PeFile.parse(changed);
            org.kexecmeasured.payload.pe.Section text = pe.sections().get(0);
            changed[(int) text.pointerToRawData() + 16] ^= 0x5a; // inside the first section's raw data: hashed
            java.nio.file.Files.write(other, changed);
            try (org.kexecmeasured.payload.PayloadFile pf = org.kexecmeasured.payload.PayloadFile.open(copy)) {
                Hashing h = new Hashing(List.of(HashAlg.SHA256));
                byte[] sha256 = h.payloadAuthenticodeSha256(pf.buffer());
                long hashed = h.bytes();
                assertArrayEquals(sha256, h.authenticode(pf.buffer()).get(HashAlg.SHA256));
                assertEquals(hashed, h.bytes(), "the payload's own mapping was not hashed again");
                byte[] fresh = h.authenticode(ByteBuffer.wrap(changed)).get(HashAlg.SHA256);
                assertEquals(org.kexecmeasured.payload.RealParts.pesignHash(other, "sha256"), org.kexecmeasured.util.Hex.of(fresh));
                assertEquals(hashed + changed.length, h.bytes(), "the image of equal length and other bytes was hashed");
            }
        } finally {
            java.nio.file.Files.deleteIfExists(copy);
            java.nio.file.Files.deleteIfExists(other);
            java.nio.file.Files.deleteIfExists(dir);
        }
    }

    @Test
    void theBanksSplitIntoTwoDisjointGroupsCoveringAll() {
        java.util.EnumSet<HashAlg> algs = java.util.EnumSet.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        List<java.util.EnumSet<HashAlg>> g = Hashing.splitByCost(algs);
        java.util.EnumSet<HashAlg> union = java.util.EnumSet.noneOf(HashAlg.class);
        int total = 0;
        for (java.util.EnumSet<HashAlg> x : g) {
            union.addAll(x);
            total += x.size();
        }
        assertEquals(algs, union);
        assertEquals(algs.size(), total, "each bank in one group");
        if (Runtime.getRuntime().availableProcessors() >= 2) {
            assertEquals(2, g.size());
            assertEquals(java.util.EnumSet.of(HashAlg.SHA384), g.get(0), "SHA-384 weighs as much as SHA-1 and SHA-256 together");
        }
        assertEquals(1, Hashing.splitByCost(java.util.EnumSet.of(HashAlg.SHA256)).size());
    }

    /**
     * A broken read lease stops large hashing before OpenSSL reads the mapping: a writer may truncate the file once
     * the lease-break time has passed, and a native read of a truncated mapping is SIGBUS, which kills the JVM (shown
     * by hand: PayloadFile.open, truncate(2) from a second process, 47 s later MultiHasher.update: SIGBUS in
     * libcrypto, exit 134). The writer here opens with O_NONBLOCK: EAGAIN at once, and the lease is broken.
     */
    @Test
    void aBrokenPayloadLeaseStopsLargeHashingWithBadInput(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path f = dir.resolve("payload.bin");
        byte[] content = new byte[3 << 20];
        new Random(7).nextBytes(content);
        java.nio.file.Files.write(f, content);
        try (org.kexecmeasured.payload.PayloadFile p = org.kexecmeasured.payload.PayloadFile.open(f)) {
            assertEquals(org.kexecmeasured.payload.PayloadFile.Source.MAPPED, p.source(), p.describeSource());
            Hashing h = new Hashing(List.of(HashAlg.SHA256));
            h.beforeLargeRead(() -> p.checkUnchanged("before its bytes were hashed"));
            // while the lease holds: hashed (sha256 of the same bytes through the JDK as the oracle)
            assertArrayEquals(java.security.MessageDigest.getInstance("SHA-256").digest(content),
                    h.digest(p.buffer()).get(HashAlg.SHA256));
            Process w = new ProcessBuilder("python3", "-c",
                    "import os,sys\ntry:\n os.open(sys.argv[1], os.O_WRONLY|os.O_NONBLOCK)\nexcept BlockingIOError:\n print('EAGAIN')",
                    f.toString()).redirectErrorStream(true).start();
            assertEquals("EAGAIN", new String(w.getInputStream().readAllBytes()).trim(), "the writer met the lease");
            assertEquals(0, w.waitFor());
            Hashing fresh = new Hashing(List.of(HashAlg.SHA256));
            fresh.beforeLargeRead(() -> p.checkUnchanged("before its bytes were hashed"));
            org.kexecmeasured.util.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
                    org.kexecmeasured.util.BadInputException.class, () -> fresh.digest(p.buffer()));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("read lease was broken"), e.getMessage());
            // small inputs (headers, event data) are not guarded: they are never the mapping's bulk
            assertEquals(32, fresh.digest(new byte[16]).get(HashAlg.SHA256).length);
        }
    }
}
