package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.payload.pe.Authenticode;
import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The payload's SHA-256 Authenticode digest comes back while its other banks are still being hashed (the planner
 * plans the boundary and sets the emulator up meanwhile), and the payload's own LoadImage measurement waits for them:
 * here the other banks' threads are held until the measurement is seen waiting, so their digests arrive late. The
 * PCR 4 record then carries every bank's digest, each equal to pesign's (sha1, sha256) or, for sha384 (which pesign
 * does not know), to the JDK's SHA-384 over the ranges the PE/COFF spec names; and no PCR 4 image record exists
 * before they are in (only the firmware's boot-option action, which precedes it as in EDK2).
 */
class LatePayloadDigestsTest {

    private static final List<HashAlg> BANKS = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);

    record Rec(Measurement m, Origin origin) {
    }

    @Test
    @Timeout(120) // a LoadImage that never waited would not hang; one that never woke would
    void thePayloadsLoadImageRecordWaitsForLateBanksAndCarriesPesignsDigests(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Path efi = RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi");
        Path copy = dir.resolve("payload.efi");
        Files.copy(efi, copy);
        try (PayloadFile pf = PayloadFile.open(copy)) {
            Hashing h = new Hashing(BANKS);
            CountDownLatch release = new CountDownLatch(1);
            List<String> bankThreads = Collections.synchronizedList(new ArrayList<>());
            h.threads = r -> {
                Thread t = new Thread(() -> {
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    r.run();
                }, "held-bank");
                bankThreads.add(t.getName());
                t.setDaemon(true);
                t.start();
            };

            byte[] sha256 = h.payloadAuthenticodeSha256(pf.buffer()); // returns with the other banks held
            assertEquals(RealParts.pesignHash(copy, "sha256"), Hex.of(sha256));
            assertFalse(bankThreads.isEmpty(), "the other banks are hashed on other threads");
            long hashed = h.bytes();

            List<Rec> recs = Collections.synchronizedList(new ArrayList<>());
            ChainMeasurer cm = new ChainMeasurer(h, (m, o) -> recs.add(new Rec(m, o)));
            byte[] dp = {4, 4, 8, 0, 'a', 0, 0, 0, 0x7f, (byte) 0xff, 4, 0};
            Thread loader = new Thread(() -> cm.imageLoaded(pf.buffer(), 0x1000000, 0x20000, 0x10000000L, dp, true), "loader");
            loader.start();
            while (loader.getState() != Thread.State.WAITING && loader.isAlive()) Thread.sleep(5);
            assertEquals(1, recs.size(), "only the boot-option action before the late banks are in: " + recs);
            assertEquals(ChainMeasurer.CALLING_EFI_APPLICATION,
                    new String(recs.get(0).m().eventData(), java.nio.charset.StandardCharsets.US_ASCII));

            release.countDown();
            loader.join();
            assertEquals(2, recs.size(), "the payload's LoadImage record once the banks are in");
            Measurement load = recs.get(1).m();
            assertEquals(4, load.pcr());
            assertEquals(ChainMeasurer.EV_EFI_BOOT_SERVICES_APPLICATION, load.eventType());
            assertEquals(java.util.EnumSet.copyOf(BANKS), load.digests().keySet());
            assertEquals(RealParts.pesignHash(copy, "sha1"), Hex.of(load.digests().get(HashAlg.SHA1)));
            assertEquals(RealParts.pesignHash(copy, "sha256"), Hex.of(load.digests().get(HashAlg.SHA256)));
            MessageDigest md = MessageDigest.getInstance("SHA-384");
            byte[] file = Files.readAllBytes(copy);
            for (Authenticode.Range r : Authenticode.hashedRanges(PeFile.parse(file))) {
                md.update(file, (int) r.offset(), (int) r.length());
            }
            assertArrayEquals(md.digest(), load.digests().get(HashAlg.SHA384));
            assertEquals(file.length, hashed, "the payload's bytes once for all banks");
            assertEquals(hashed + ChainMeasurer.CALLING_EFI_APPLICATION.length(), h.bytes(),
                    "the payload's LoadImage hashed nothing again (only the action's text)");
        }
    }

    /**
     * A read lease broken after the payload's SHA-256 pass, before another bank's thread reads the mapping: that
     * thread's check refuses, and the payload's LoadImage measurement (and the planner's wait) throw that very
     * refusal; no PCR 4 image record is made.
     */
    @Test
    @Timeout(120)
    void aLeaseBrokenBeforeALateBankReadsStopsTheLoadImageWithThatRefusal(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Path efi = RealParts.require(RealParts.SYSTEMD_BOOT, "systemd-boot-efi");
        Path copy = dir.resolve("payload.efi");
        Files.copy(efi, copy);
        try (PayloadFile pf = PayloadFile.open(copy)) {
            Hashing h = new Hashing(BANKS);
            org.kexecmeasured.util.BadInputException refusal =
                    new org.kexecmeasured.util.BadInputException("payload.efi: its read lease was broken (test)");
            Thread caller = Thread.currentThread();
            h.beforeLargeRead(() -> {
                if (Thread.currentThread() != caller) throw refusal; // the other banks' threads
            });
            byte[] sha256 = h.payloadAuthenticodeSha256(pf.buffer());
            assertEquals(RealParts.pesignHash(copy, "sha256"), Hex.of(sha256));
            List<Rec> recs = new ArrayList<>();
            ChainMeasurer cm = new ChainMeasurer(h, (m, o) -> recs.add(new Rec(m, o)));
            byte[] dp = {4, 4, 8, 0, 'a', 0, 0, 0, 0x7f, (byte) 0xff, 4, 0};
            RuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                    () -> cm.imageLoaded(pf.buffer(), 0x1000000, 0x20000, 0x10000000L, dp, true));
            org.junit.jupiter.api.Assertions.assertSame(refusal, e);
            org.junit.jupiter.api.Assertions.assertSame(refusal,
                    org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, h::awaitPayload));
            assertEquals(1, recs.size(), "only the boot-option action, no image record: " + recs);
        }
    }
}
