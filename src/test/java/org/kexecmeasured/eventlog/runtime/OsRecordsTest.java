package org.kexecmeasured.eventlog.runtime;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.util.HashAlg;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which OS records a continued log still lacks: all of them, or the ones after a carried-over prefix. */
class OsRecordsTest {

    private static List<RuntimeRecord> ima(int copies) throws IOException {
        byte[] one = ImaLogTest.resource("qemu-ovmf-uki-ima.bin");
        byte[] b = new byte[one.length * copies];
        for (int i = 0; i < copies; i++) System.arraycopy(one, 0, b, i * one.length, one.length);
        return ImaLog.parse(b, List.of(HashAlg.SHA256));
    }

    private static EventLog logWith(List<RuntimeRecord> records) {
        EventLog.Builder b = EventLog.newCryptoAgile(List.of(HashAlg.SHA256));
        for (RuntimeRecord r : records) b.append(r.pcr(), OsRecords.EV_EVENT_TAG, r.digests(), OsRecords.taggedEvent(r));
        return b.build();
    }

    @Test
    void aFreshListIsAllNewAndACarriedOverPrefixIsSkipped() throws IOException {
        EventLog empty = logWith(List.of());
        assertEquals(2, OsRecords.select(empty, ima(2), List.of()).toAppend().size());

        // the previous generation logged one record; the list now carries it and one more
        OsRecords.Selection s = OsRecords.select(logWith(ima(1)), ima(2), List.of());
        assertEquals(1, s.imaAlreadyLogged());
        assertEquals(1, s.toAppend().size());

        // a list that does not start with the logged records (no carry-over across kexec) is all new
        List<RuntimeRecord> other = new ArrayList<>(ima(1));
        byte[] raw = other.get(0).raw();
        raw[raw.length - 1] ^= 1;
        RuntimeRecord changed = new RuntimeRecord(RuntimeRecord.Source.IMA, 0, 10, other.get(0).digests(), raw, "x");
        assertEquals(1, OsRecords.select(logWith(List.of(changed)), ima(1), List.of()).toAppend().size());
    }

    @Test
    void aPcrBothSourcesExtendIsNamedAsUnknownOrder() throws IOException {
        RuntimeRecord sd = new RuntimeRecord(RuntimeRecord.Source.SYSTEMD, 0, 10, ima(1).get(0).digests(), new byte[]{'{', '}'}, "s");
        OsRecords.Selection s = OsRecords.select(logWith(List.of()), ima(1), List.of(sd));
        assertEquals(Set.of(10), s.unknownOrderPcrs());
        assertEquals(RuntimeRecord.Source.IMA, s.toAppend().get(0).source());
    }
}
