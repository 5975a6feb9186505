package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.hash.MultiHasher;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hashing split into units (a stream in a group of banks) that two threads take: every bank set gives the digests
 * the independent tools give (pesign's Authenticode hash, openssl dgst over the section objcopy extracts) and the one
 * sequential pass of the JDK's digests gives; and a section's bank groups are hashed by two threads at the same time.
 */
class HashingScheduleTest {

    private static final List<List<HashAlg>> BANK_SETS = List.of(
            List.of(HashAlg.SHA256),
            List.of(HashAlg.SHA1, HashAlg.SHA256),
            List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384),
            List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512));

    /**
     * A real UKI (tests/bin/make-uki: systemd-stub, the newest /boot kernel as .linux, a 3 MiB .initrd of random
     * bytes), its sections hashed ahead as the planner does ({@link Planner#knownSections}) and its Authenticode digest
     * in every bank; for each bank set the payload's digests equal pesign's (sha1, sha256) and the JDK's one pass over
     * the spec's ranges (every bank), and each large section's digests equal openssl dgst of the bytes objcopy
     * extracts, served from what was hashed ahead (nothing hashed again).
     */
    @Test
    @Timeout(300)
    void everyBankSetGivesTheToolsDigestsAndTheSequentialOnes(@TempDir Path dir) throws Exception {
        byte[] initrd = new byte[3 << 20];
        new Random(14).nextBytes(initrd);
        Path initrdFile = dir.resolve("random.initrd");
        Files.write(initrdFile, initrd);
        Path ukiDir = dir.resolve("uki");
        RealParts.run(List.of(RealParts.repoRoot().resolve("tests/bin/make-uki").toString(), ukiDir.toString(),
                "--initrd", initrdFile.toString()), "binutils (objcopy), cpio, systemd-boot-efi");
        Path uki = ukiDir.resolve("demo.efi");
        byte[] file = Files.readAllBytes(uki);
        Map<String, Path> sections = Map.of(".linux", dir.resolve("linux.bin"), ".initrd", dir.resolve("initrd.bin"));
        for (Map.Entry<String, Path> s : sections.entrySet()) {
            RealParts.run(List.of("objcopy", "-O", "binary", "--only-section=" + s.getKey(), uki.toString(),
                    s.getValue().toString()), "binutils");
            assertTrue(Files.size(s.getValue()) >= Hashing.LARGE, s.getKey() + " is large enough to be hashed ahead");
        }
        assertArrayEquals(initrd, Files.readAllBytes(sections.get(".initrd")), "objcopy extracts the initrd as written");

        for (List<HashAlg> banks : BANK_SETS) {
            try (PayloadFile pf = PayloadFile.open(uki)) {
                Hashing h = new Hashing(banks);
                byte[] sha256 = h.payloadAuthenticodeSha256(pf.buffer());
                Planner.knownSections(h, pf.buffer());
                Map<HashAlg, byte[]> payload = h.awaitPayload();
                h.awaitPrecomputations();
                long hashed = h.bytes();

                Map<HashAlg, byte[]> sequential;
                try (MultiHasher m = MultiHasher.createJca(banks)) {
                    for (Authenticode.Range r : Authenticode.hashedRanges(PeFile.parse(file))) {
                        m.update(file, (int) r.offset(), (int) r.length());
                    }
                    sequential = m.finish();
                }
                assertEquals(EnumSet.copyOf(banks), payload.keySet(), banks.toString());
                assertEquals(RealParts.pesignHash(uki, "sha256"), Hex.of(sha256), banks + ": the boundary's digest");
                for (HashAlg a : banks) {
                    assertArrayEquals(sequential.get(a), payload.get(a), banks + ": Authenticode " + a);
                    if (a == HashAlg.SHA1 || a == HashAlg.SHA256) {
                        assertEquals(RealParts.pesignHash(uki, a.name().toLowerCase()), Hex.of(payload.get(a)),
                                banks + ": pesign's Authenticode " + a);
                    }
                }

                for (Map.Entry<String, Path> s : sections.entrySet()) {
                    byte[] bytes = Files.readAllBytes(s.getValue());
                    Map<HashAlg, byte[]> d = h.digest(ByteBuffer.wrap(bytes).asReadOnlyBuffer());
                    assertEquals(EnumSet.copyOf(banks), d.keySet(), banks + " " + s.getKey());
                    for (HashAlg a : banks) {
                        String openssl = RealParts.run(List.of("openssl", "dgst", "-" + a.name().toLowerCase(), "-r",
                                s.getValue().toString()), "openssl").split(" ")[0];
                        assertEquals(openssl, Hex.of(d.get(a)), banks + " " + s.getKey() + " " + a + " (openssl dgst)");
                        assertArrayEquals(a.newDigest().digest(bytes), d.get(a), banks + " " + s.getKey() + " " + a + " (JDK)");
                    }
                }
                assertEquals(hashed, h.bytes(), banks + ": the sections were served from what was hashed ahead");
            }
        }
    }

    /**
     * A section hashed ahead in three banks is two units (SHA-384; SHA-1 with SHA-256) that two threads run at the same
     * time: each unit's lease check waits at a barrier for the other's (a single thread taking them one after the
     * other never gets past it: the barrier times out and the unit fails). Its digests are the JDK's.
     */
    @Test
    @Timeout(120)
    void aSectionsBankGroupsAreHashedByTwoThreadsAtOnce() throws Exception {
        assertTrue(Runtime.getRuntime().availableProcessors() >= 2, "this test needs two cores");
        List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        byte[] section = new byte[2 << 20];
        new Random(15).nextBytes(section);
        Hashing h = new Hashing(banks);
        CyclicBarrier together = new CyclicBarrier(2);
        AtomicInteger met = new AtomicInteger();
        Thread caller = Thread.currentThread();
        h.beforeLargeRead(() -> {
            if (Thread.currentThread() == caller) return;
            try {
                together.await(30, TimeUnit.SECONDS);
                met.incrementAndGet();
            } catch (Exception e) {
                throw new IllegalStateException("the other unit did not run at the same time", e);
            }
        });
        h.precompute(ByteBuffer.wrap(section).asReadOnlyBuffer());
        h.awaitPrecomputations();
        assertEquals(2, met.get(), "both units passed the barrier together");
        long hashed = h.bytes();
        assertEquals(section.length, hashed, "the section's bytes counted once for every bank");
        Map<HashAlg, byte[]> d = h.digest(ByteBuffer.wrap(section.clone()));
        assertEquals(hashed, h.bytes(), "served from what was hashed ahead");
        for (HashAlg a : banks) assertArrayEquals(a.newDigest().digest(section), d.get(a), a.name());
    }
    /**
     * The sections are hashed ahead in the order systemd-stub measures them, not in the file's: a UKI with its
     * {@code .initrd} before its {@code .linux} in the file (as ukify lays them out) queues {@code .linux} first. One
     * worker shows the order: when the second unit starts, the bytes hashed so far are exactly the {@code .linux}'s.
     */
    @Test
    @Timeout(120)
    void theSectionTheStubMeasuresFirstIsHashedFirst(@TempDir Path dir) throws Exception {
        byte[] kernel = new byte[(2 << 20) + 4321];
        byte[] initrd = new byte[(3 << 20) + 123];
        new Random(16).nextBytes(kernel);
        new Random(17).nextBytes(initrd);
        Files.write(dir.resolve("k.bin"), kernel);
        Files.write(dir.resolve("i.bin"), initrd);
        Path uki = dir.resolve("initrd-first.efi");
        RealParts.run(List.of("objcopy",
                "--add-section", ".initrd=" + dir.resolve("i.bin"), "--change-section-vma", ".initrd=0x2000000",
                "--add-section", ".linux=" + dir.resolve("k.bin"), "--change-section-vma", ".linux=0x3000000",
                RealParts.require(RealParts.LINUX_STUB, "systemd-boot-efi").toString(), uki.toString()), "binutils");
        try (PayloadFile pf = PayloadFile.open(uki)) {
            List<String> names = PeFile.parse(pf.buffer()).sections().stream().map(s -> s.name()).toList();
            assertTrue(names.indexOf(".initrd") < names.indexOf(".linux"), "the file has .initrd first: " + names);
            Hashing h = new Hashing(List.of(HashAlg.SHA256), 1);
            List<Long> hashedAtStart = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            h.beforeLargeRead(() -> hashedAtStart.add(h.bytes()));
            Planner.knownSections(h, pf.buffer());
            h.awaitPrecomputations();
            assertEquals(List.of(0L, (long) kernel.length), hashedAtStart, "the .linux first, then the .initrd");
            assertArrayEquals(HashAlg.SHA256.newDigest().digest(initrd),
                    h.digest(ByteBuffer.wrap(initrd)).get(HashAlg.SHA256));
            assertEquals((long) kernel.length + initrd.length, h.bytes(), "both served from what was hashed ahead");
        }
    }
    /**
     * Guest memory that still holds the payload section it was placed from ({@link
     * org.kexecmeasured.uefi.spi.GuestBytes#placedView}: a view of the same host memory) takes the digests hashed
     * ahead of that memory by identity: guest memory is never read out (its pieces throw here), nothing is hashed
     * again, and the digests are the JDK's. Guest memory without such a view (the guest changed a byte) is read and
     * hashed as it is.
     */
    @Test
    @Timeout(60)
    void placedGuestBytesTakeTheSectionsDigestsByIdentityWithoutReadingGuestMemory() {
        List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        ByteBuffer payload = ByteBuffer.allocateDirect((3 << 20) + 4096);
        byte[] bytes = new byte[payload.capacity()];
        new Random(18).nextBytes(bytes);
        payload.put(bytes).clear();
        int off = 4096;
        int len = 3 << 20;
        Hashing h = new Hashing(banks);
        h.precompute(payload.slice(off, len));
        org.kexecmeasured.uefi.spi.GuestBytes placed = new org.kexecmeasured.uefi.spi.GuestBytes() {
            @Override
            public long length() {
                return len;
            }

            @Override
            public void forEachPiece(java.util.function.Consumer<ByteBuffer> piece) {
                throw new AssertionError("guest memory read out although the host bytes stand for it");
            }

            @Override
            public byte[] head(int n) {
                throw new AssertionError("not used");
            }

            @Override
            public byte[] toArray() {
                throw new AssertionError("guest memory copied although the host bytes stand for it");
            }

            @Override
            public ByteBuffer placedView() {
                return payload.slice(off, len).asReadOnlyBuffer(); // the placement's own memory, as UnicornCpu gives it
            }
        };
        Map<HashAlg, byte[]> d = h.digest(placed);
        assertEquals(len, h.bytes(), "hashed once, ahead");
        assertEquals(len, h.reusedBytes(), "the guest's measurement reused it");
        byte[] section = java.util.Arrays.copyOfRange(bytes, off, off + len);
        for (HashAlg a : banks) assertArrayEquals(a.newDigest().digest(section), d.get(a), a.name());

        byte[] changed = section.clone();
        changed[12345] ^= 1;
        Map<HashAlg, byte[]> other = h.digest(org.kexecmeasured.uefi.spi.GuestBytes.of(changed));
        assertEquals(2L * len, h.bytes(), "changed guest bytes are hashed");
        for (HashAlg a : banks) assertArrayEquals(a.newDigest().digest(changed), other.get(a), a.name());
    }
}
