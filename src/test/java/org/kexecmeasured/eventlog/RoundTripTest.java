package org.kexecmeasured.eventlog;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RoundTripTest {

    @Test
    void everyLogRoundTripsByteIdentically() {
        int n = 0;
        for (Path p : Fixtures.goodLogs()) {
            byte[] b = Fixtures.read(p);
            EventLog log = EventLog.parse(b);
            assertArrayEquals(b, log.toBytes(), p.getFileName().toString());
            // offsets recorded by the parser are where the writer puts each record
            long off = 0;
            for (Event e : log.events()) {
                assertEquals(off, e.offset(), p.getFileName() + " record " + e.index());
                off += EventLogWriter.recordSize(e);
            }
            n++;
        }
        assertEquals(11, n);
    }

    @Test
    void formatsAndSpecIdAsDocumentedInSources() {
        EventLog v4 = EventLog.parse(Fixtures.read("quirk-specid-vendorinfo4.bin"));
        assertEquals(LogFormat.CRYPTO_AGILE, v4.format());
        assertArrayEquals(new byte[]{(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef}, v4.specId().vendorInfo());
        assertEquals(List.of(HashAlg.SHA1, HashAlg.SHA256), v4.banks());
        assertEquals(LogFormat.SHA1_LEGACY, EventLog.parse(Fixtures.read("quirk-startuplocality-no-specid.bin")).format());
        EventLog gce = EventLog.parse(Fixtures.read("gce-v2-sevsnp-ebs-failure.bin"));
        assertEquals(List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384), gce.banks());
        EventLog srv = EventLog.parse(Fixtures.read("server-startuploc3-kernel-tags.bin"));
        assertEquals(1, srv.specId().platformClass());
        assertEquals(159, srv.events().size()); // 158 events + the Spec ID record
    }

    @Test
    void unknownAlgorithmInSpecIdIsKeptWithItsSize() {
        // Spec ID with sha256 and an unknown algorithm 0x1234 of 7 bytes, then one record using both
        EventLog.Builder b = EventLog.newCryptoAgile(List.of(HashAlg.SHA256));
        byte[] base = b.build().toBytes();
        byte[] sid = new byte[]{
                'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ', 'E', 'v', 'e', 'n', 't', '0', '3', 0,
                0, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0x0b, 0, 32, 0, 0x34, 0x12, 7, 0, 0};
        byte[] first = Arrays.copyOf(base, 32 + sid.length);
        first[28] = (byte) sid.length;
        System.arraycopy(sid, 0, first, 32, sid.length);
        byte[] rec = new byte[12 + 34 + 9 + 4 + 1];
        rec[0] = 7; rec[4] = 4; rec[8] = 2;
        rec[12] = 0x0b;
        rec[46] = 0x34; rec[47] = 0x12;
        rec[55] = 1; rec[59] = 0x42;
        byte[] all = new byte[first.length + rec.length];
        System.arraycopy(first, 0, all, 0, first.length);
        System.arraycopy(rec, 0, all, first.length, rec.length);
        EventLog log = EventLog.parse(all);
        assertEquals(2, log.specId().algorithms().size());
        assertEquals(7, log.specId().digestSize(0x1234));
        Event e = log.events().get(1);
        assertEquals(0x1234, e.digestList().get(1).algId());
        assertEquals(7, e.digestList().get(1).value().length);
        assertEquals(List.of(HashAlg.SHA256), log.banks());
        assertArrayEquals(all, log.toBytes());
        assertTrue(Quirks.find(log).stream().anyMatch(f -> f.id().equals(Quirks.UNKNOWN_ALGORITHM)));
    }

    @Test
    void appendedRecordsExtendLikeTheSpecSays() throws Exception {
        byte[] b = Fixtures.read("ovmf-rhel9-secureboot.bin");
        EventLog log = EventLog.parse(b);
        byte[] data = "kexec boundary".getBytes(StandardCharsets.US_ASCII);
        EventLog more = log.toBuilder().appendMeasured(11, EventType.EV_EVENT_TAG, data, data).build();
        byte[] out = more.toBytes();
        assertArrayEquals(b, Arrays.copyOf(out, b.length), "the firmware part stays as it was");
        EventLog again = EventLog.parse(out);
        assertEquals(log.events().size() + 1, again.events().size());
        Event last = again.events().get(again.events().size() - 1);
        assertEquals(b.length, last.offset());
        // independent: PCR 11 was zero before (the firmware log does not touch it) → SHA-256(zeros || SHA-256(data))
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] d = md.digest(data);
        md.update(new byte[32]);
        md.update(d);
        assertArrayEquals(md.digest(), Replay.replay(again).get(HashAlg.SHA256)[11]);
    }

    @Test
    void appendRequiresEveryBankOfTheHeader() {
        EventLog log = EventLog.parse(Fixtures.read("lenovo-n40et41w-startuploc3.bin"));
        Map<HashAlg, byte[]> onlySha256 = new LinkedHashMap<>();
        onlySha256.put(HashAlg.SHA256, new byte[32]);
        BadInputException e = assertThrows(BadInputException.class,
                () -> log.toBuilder().append(9, EventType.EV_IPL, onlySha256, new byte[0]));
        assertTrue(e.getMessage().contains("sha1"), e.getMessage());
        Map<HashAlg, byte[]> wrongSize = new LinkedHashMap<>();
        wrongSize.put(HashAlg.SHA1, new byte[20]);
        wrongSize.put(HashAlg.SHA256, new byte[20]);
        assertThrows(BadInputException.class, () -> log.toBuilder().append(9, EventType.EV_IPL, wrongSize, new byte[0]));
        Map<HashAlg, byte[]> extra = new LinkedHashMap<>();
        extra.put(HashAlg.SHA1, new byte[20]);
        extra.put(HashAlg.SHA256, new byte[32]);
        extra.put(HashAlg.SHA384, new byte[48]);
        assertThrows(BadInputException.class, () -> log.toBuilder().append(9, EventType.EV_IPL, extra, new byte[0]));
        extra.remove(HashAlg.SHA384);
        EventLog ok = log.toBuilder().append(9, EventType.EV_IPL, extra, new byte[]{1}).build();
        assertArrayEquals(ok.toBytes(), EventLog.parse(ok.toBytes()).toBytes());
    }

    @Test
    void trailingZeroPaddingIsKeptAndNamed() {
        for (String name : List.of("ovmf-sdboot-fedora37.bin", "windows-gce-sha1-wbcl.bin")) {
            byte[] b = Fixtures.read(name);
            byte[] padded = Arrays.copyOf(b, b.length + 4096);
            EventLog log = EventLog.parse(padded);
            assertEquals(EventLog.parse(b).events().size(), log.events().size(), name);
            assertEquals(4096, log.zeroPadding());
            assertArrayEquals(padded, log.toBytes());
            assertArrayEquals(padded, log.toBuilder().build().toBytes());
            assertTrue(Quirks.find(log).stream().anyMatch(f -> f.id().equals(Quirks.TRAILING_ZERO_PADDING)));
            for (int i = 0; i < 24; i++) {
                assertArrayEquals(Replay.replay(EventLog.parse(b)).get(log.banks().get(0))[i], Replay.replay(log).get(log.banks().get(0))[i]);
            }
            // an appended record goes where the padding began
            byte[] d = {1};
            EventLog more = log.toBuilder().appendMeasured(11, EventType.EV_IPL, d, d).build();
            assertEquals(b.length, more.events().get(more.events().size() - 1).offset());
            assertEquals(0, more.zeroPadding());
            assertArrayEquals(b, Arrays.copyOf(more.toBytes(), b.length));
        }
        // zeros alone are not a log
        assertThrows(BadInputException.class, () -> EventLog.parse(new byte[64]));
    }

    @Test
    void newLogFromScratchParsesBack() {
        EventLog.Builder b = EventLog.newCryptoAgile(List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384));
        b.appendMeasured(4, EventType.EV_EFI_ACTION, "x".getBytes(StandardCharsets.US_ASCII), "x".getBytes(StandardCharsets.US_ASCII));
        byte[] bytes = b.build().toBytes();
        EventLog back = EventLog.parse(bytes);
        assertEquals(LogFormat.CRYPTO_AGILE, back.format());
        assertEquals(List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384), back.banks());
        assertEquals(2, back.events().size());
        assertTrue(Quirks.find(back).stream().noneMatch(f -> f.id().equals(Quirks.DIGEST_NOT_HASH_OF_DATA)));
    }
}
