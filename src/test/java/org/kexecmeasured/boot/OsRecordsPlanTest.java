package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.eventlog.runtime.ImaLog;
import org.kexecmeasured.eventlog.runtime.OsRecords;
import org.kexecmeasured.eventlog.runtime.RuntimeRecord;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The running OS's records in a plan: a real IMA list (from the QEMU guest, with the PCR 10 values its TPM
 * reported) turns an unexplained PCR 10 into one the log replays; and a payload cannot log with the tags
 * reserved for them.
 */
class OsRecordsPlanTest {

    static byte[] resource(String name) throws IOException {
        try (InputStream in = OsRecordsPlanTest.class.getResourceAsStream("/org/kexecmeasured/eventlog/runtime/" + name)) {
            if (in == null) throw new AssertionError(name + " missing");
            return in.readAllBytes();
        }
    }

    @Test
    void imaRecordsGoBeforeTheBoundaryAndExplainPcr10(@TempDir Path dir) throws IOException {
        Path ima = dir.resolve("ima.bin");
        Files.write(ima, resource("qemu-ovmf-uki-ima.bin"));
        Map<HashAlg, Map<Integer, byte[]>> tpm = new TreeMap<>();
        for (String l : new String(resource("qemu-ovmf-uki-ima.pcr10"), StandardCharsets.US_ASCII).split("\n")) {
            String[] f = l.trim().split(" ");
            Map<Integer, byte[]> m = new TreeMap<>();
            for (int i = 0; i < 24; i++) m.put(i, new byte[HashAlg.fromName(f[0]).size]);
            m.put(10, Hex.parse(f[2]));
            tpm.put(HashAlg.fromName(f[0]), m);
        }
        PcrSet before = new PcrSet(tpm);
        EventLog fw = EventLog.newCryptoAgile(List.of(HashAlg.SHA1, HashAlg.SHA256)).build();
        List<String> none = new ArrayList<>();
        assertEquals(2, Planner.divergentPcrs(fw, before, none).size(), "without the IMA list PCR 10 diverges in both banks");

        List<String> notes = new ArrayList<>();
        EventLog head = MeasuredBoot.readOsLogs(new OsLogs(ima, dir.resolve("no-systemd-log")), fw, before, notes);
        assertEquals(1, head.events().size() - fw.events().size());
        assertEquals(10, head.events().get(head.events().size() - 1).pcrIndex());
        assertTrue(Planner.divergentPcrs(head, before, new ArrayList<>()).isEmpty(), "with it the log replays");
        assertTrue(notes.get(0).contains("1 from IMA"), notes.toString());
        assertEquals(Hex.of(tpm.get(HashAlg.SHA256).get(10)), Hex.of(Replay.replay(head).get(HashAlg.SHA256)[10]));
        // a second plan on top of that log adds nothing: the list is the one already logged
        EventLog again = MeasuredBoot.readOsLogs(new OsLogs(ima, null), head, before, new ArrayList<>());
        assertEquals(head.events().size(), again.events().size());
    }

    @Test
    void aPayloadCannotLogWithTheOsRecordTags() throws IOException {
        EventLog fw = EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build();
        Map<Integer, byte[]> zero = new TreeMap<>();
        for (int i = 0; i < 24; i++) zero.put(i, new byte[32]);
        Planner p = new Planner(BootPolicy.BUILTIN_DEFAULT, List.of(HashAlg.SHA256), fw, new PcrSet(Map.of(HashAlg.SHA256, zero)));
        RuntimeRecord r = ImaLog.parse(resource("qemu-ovmf-uki-ima.bin"), List.of(HashAlg.SHA256)).get(0);
        Measurement forged = new Measurement(10, OsRecords.EV_EVENT_TAG, r.digests(), OsRecords.taggedEvent(r));
        BadInputException e = assertThrows(BadInputException.class, () -> p.accept(forged, Origin.PAYLOAD));
        assertTrue(e.getMessage().contains("reserved for the running OS's records"), e.getMessage());
        assertEquals(0, p.records().size());
    }
}
