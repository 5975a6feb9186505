package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The firmware-side records ChainMeasurer makes, and the planner's rules. */
class ChainMeasurerTest {

    record Rec(Measurement m, Origin origin) {
    }

    private static String text(Measurement m) {
        return new String(m.eventData(), StandardCharsets.US_ASCII);
    }

    @Test
    void ebsFailureThenRetryIsLoggedInFirmwareOrderWithTheReferenceDigests() {
        List<Rec> recs = new ArrayList<>();
        ChainMeasurer cm = new ChainMeasurer(new Hashing(List.of(HashAlg.SHA256)), (m, o) -> recs.add(new Rec(m, o)));
        cm.exitBootServices(false);
        cm.exitBootServices(true);
        assertEquals(List.of(ChainMeasurer.EBS_FAILURE, ChainMeasurer.EBS_INVOCATION, ChainMeasurer.EBS_SUCCESS),
                recs.stream().map(r -> text(r.m())).toList());
        // digests from the reference table (measurements.md §3), not from our code
        assertEquals(List.of("23ddecbc32ea9e91ffc984b55d9fb34b24f61fd6d95d5d33dd95e824415fdd4f",
                        "d8043d6b7b85ad358eb3b6ae6a873ab7ef23a26352c5dc4faa5aeedacf5eb41b",
                        "b54f7542cbd872a81a9d9dea839b2b8d747c7ebd5ea6615c40f42f44a6dbeba0"),
                recs.stream().map(r -> Hex.of(r.m().digests().get(HashAlg.SHA256))).toList());
        assertTrue(recs.stream().allMatch(r -> r.m().pcr() == 5 && r.m().eventType() == ChainMeasurer.EV_EFI_ACTION));
    }

    @Test
    void imageLoadEventLayoutAndTheBootOptionActionOnce() throws Exception {
        List<Rec> recs = new ArrayList<>();
        ChainMeasurer cm = new ChainMeasurer(new Hashing(List.of(HashAlg.SHA256)), (m, o) -> recs.add(new Rec(m, o)));
        byte[] sdboot = java.nio.file.Files.readAllBytes(Path.of("/usr/lib/systemd/boot/efi/systemd-bootx64.efi"));
        byte[] dp = {4, 4, 8, 0, 'a', 0, 0, 0, 0x7f, (byte) 0xff, 4, 0};
        cm.imageLoaded(java.nio.ByteBuffer.wrap(sdboot), 0x1000000, 0x20000, 0x10000000L, dp, true);
        cm.imageLoaded(java.nio.ByteBuffer.wrap(sdboot), 0x2000000, 0x20000, 0x10000000L, dp, false);
        assertEquals(3, recs.size());
        assertEquals(ChainMeasurer.CALLING_EFI_APPLICATION, text(recs.get(0).m()));
        assertEquals("3d6772b4f84ed47595d72a2c4c5ffd15f5bb72c7507fe26f2aaee2c69d5633ba",
                Hex.of(recs.get(0).m().digests().get(HashAlg.SHA256)));
        ByteBuffer ev = ByteBuffer.wrap(recs.get(2).m().eventData()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x2000000, ev.getLong(0));
        assertEquals(0x20000, ev.getLong(8));
        assertEquals(0x10000000L, ev.getLong(16));
        assertEquals(dp.length, ev.getLong(24));
        assertEquals(32 + dp.length, recs.get(2).m().eventData().length);
        assertEquals(ChainMeasurer.EV_EFI_BOOT_SERVICES_APPLICATION, recs.get(2).m().eventType());
    }

    @Test
    void theGuestSeesTheTpmsBanksNotTheLogs() {
        // log banks sha1+sha256, TPM banks sha256+sha384: EFI_TCG2 bitmap SHA256 0x2 | SHA384 0x4
        ChainMeasurer cm = new ChainMeasurer(new Hashing(List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384)),
                (m, o) -> { }, List.of(HashAlg.SHA256, HashAlg.SHA384));
        assertEquals(0x6, cm.activePcrBanks());
    }

    private static byte[] sha256(byte[]... parts) throws Exception {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        for (byte[] p : parts) md.update(p);
        return md.digest();
    }

    /**
     * The planner's rules, with no TPM at all: boundary first, side records outside the extend set,
     * EV_NO_ACTION logged with zero digests and never extended, the boundary tag refused from a payload;
     * the predicted PCRs are recomputed here with JCA SHA-256, independently of the planner.
     */
    @Test
    void plannerRules() throws Exception {
        EventLog fw = EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build();
        Map<Integer, byte[]> zero = new java.util.TreeMap<>();
        for (int i = 0; i < 24; i++) zero.put(i, new byte[32]);
        Planner p = new Planner(BootPolicy.BUILTIN_DEFAULT, List.of(HashAlg.SHA256), fw,
                new PcrSet(Map.of(HashAlg.SHA256, zero)));
        Hashing h = new Hashing(List.of(HashAlg.SHA256));
        Measurement pcr11 = new Measurement(11, 0xD, h.digest(new byte[]{1}), new byte[]{1});
        // a payload event before the PCR's boundary record is refused, and nothing is planned
        assertThrows(IllegalStateException.class, () -> p.accept(pcr11, Origin.PAYLOAD));
        assertEquals(0, p.records().size());
        BoundaryEvent b = new BoundaryEvent("t", java.time.Instant.EPOCH, new byte[16], new byte[32], "t",
                BootPolicy.BUILTIN_DEFAULT.boundarySet());
        for (Measurement m : b.measurements(h.banks())) p.accept(m, Origin.BOUNDARY);
        p.accept(pcr11, Origin.PAYLOAD);
        // PCR 8 is outside the extend set: side record only
        p.accept(new Measurement(8, 0xD, h.digest(new byte[]{2}), new byte[]{2}), Origin.PAYLOAD);
        // EV_NO_ACTION: logged with zero digests, never extended
        p.accept(new Measurement(12, 0x3, h.digest(new byte[]{3}), new byte[]{3}), Origin.PAYLOAD);
        assertEquals(List.of(PlannedRecord.Disposition.EXTEND, PlannedRecord.Disposition.EXTEND,
                        PlannedRecord.Disposition.EXTEND, PlannedRecord.Disposition.EXTEND, PlannedRecord.Disposition.EXTEND,
                        PlannedRecord.Disposition.EXTEND, PlannedRecord.Disposition.EXTEND,
                        PlannedRecord.Disposition.SIDE_RECORD, PlannedRecord.Disposition.LOG_ONLY),
                p.records().stream().map(PlannedRecord::disposition).toList());
        List<Event> ev = p.log().events();
        assertEquals(1 + 7 + 1, ev.size());
        Event last = ev.get(ev.size() - 1);
        assertEquals(3, last.eventType());
        assertArrayEquals(new byte[32], last.digest(HashAlg.SHA256));
        assertTrue(ev.stream().noneMatch(e -> e.pcrIndex() == 8));
        // predicted PCRs: the boundary (digest = H(taggedEventData)) then PCR 11's event; PCR 8 and 12's
        // EV_NO_ACTION change nothing
        byte[] boundary = sha256(new byte[32], sha256(b.data()));
        byte[][] predicted = p.predicted().get(HashAlg.SHA256);
        assertArrayEquals(sha256(boundary, sha256(new byte[]{1})), predicted[11]);
        assertArrayEquals(boundary, predicted[12]);
        assertArrayEquals(new byte[32], predicted[8]);
        assertArrayEquals(new byte[32], predicted[7]);
        // a payload may not log a record with the boundary tag (a forged "new generation"),
        // in any PCR, inside or outside the extend set: bad input, nothing planned
        byte[] forged = BoundaryEvent.taggedEvent(BoundaryEvent.TAG_ID, b.data());
        for (int pcr : List.of(11, 8)) {
            BadInputException e = assertThrows(BadInputException.class, () -> p.accept(
                    new Measurement(pcr, BoundaryEvent.EV_EVENT_TAG, h.digest(b.data()), forged), Origin.PAYLOAD));
            assertTrue(e.getMessage().contains("boundary tag"), e.getMessage());
        }
        // nor one with the next system's uncommitted hand-over tag (a forged "this boot was never committed")
        byte[] uncommitted = BoundaryEvent.taggedEvent(UncommittedHandOver.TAG_ID, b.data());
        BadInputException u = assertThrows(BadInputException.class, () -> p.accept(
                new Measurement(11, BoundaryEvent.EV_EVENT_TAG, h.digest(b.data()), uncommitted), Origin.PAYLOAD));
        assertTrue(u.getMessage().contains("uncommitted hand-over tag"), u.getMessage());
        assertEquals(9, p.records().size());
        assertEquals(9, p.log().events().size());
    }
}
