package org.kexecmeasured.eventlog.runtime;

import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.util.Le;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which of the running OS's records a continued log still lacks, and the EV_EVENT_TAG record each
 * becomes (tag "KXMI" for IMA, "KXMS" for systemd; the tagged data is the record exactly as the OS
 * logged it — see {@code tcg2/os-records.md}).
 *
 * <p>A log that already continues an earlier generation holds that generation's OS records. When the
 * OS carries its list across kexec (IMA on x86 since Linux 6.0 with CONFIG_IMA_KEXEC) the current list
 * starts with exactly those records and only the rest is new; when it does not (Debian's 6.1 kernels,
 * systemd's log in /run) the whole current list is new.
 *
 * <p>Order: within one source the list order is the extend order. Between IMA and systemd the order is
 * not recorded anywhere; it matters only for a PCR both extend, which {@link Selection#unknownOrderPcrs}
 * names (IMA's records are placed first).
 */
public final class OsRecords {
    /** EV_EVENT_TAG (TCG PC Client PFP). */
    public static final int EV_EVENT_TAG = 0x00000006;

    private OsRecords() {
    }

    /**
     * @param toAppend          the records the log lacks, in the order to append them
     * @param alreadyLogged     per source, how many of the current list's records the log already had
     * @param unknownOrderPcrs  PCRs extended by both sources: their relative order is a guess
     */
    public record Selection(List<RuntimeRecord> toAppend, int imaAlreadyLogged, int systemdAlreadyLogged,
                            Set<Integer> unknownOrderPcrs) {
    }

    public static Selection select(EventLog log, List<RuntimeRecord> ima, List<RuntimeRecord> systemd) {
        int imaSkip = loggedPrefix(log, RuntimeRecord.Source.IMA, ima);
        int sdSkip = loggedPrefix(log, RuntimeRecord.Source.SYSTEMD, systemd);
        List<RuntimeRecord> out = new ArrayList<>(ima.subList(imaSkip, ima.size()));
        List<RuntimeRecord> sd = systemd.subList(sdSkip, systemd.size());
        out.addAll(sd);
        Set<Integer> imaPcrs = new TreeSet<>();
        for (RuntimeRecord r : ima.subList(imaSkip, ima.size())) imaPcrs.add(r.pcr());
        Set<Integer> both = new TreeSet<>();
        for (RuntimeRecord r : sd) if (imaPcrs.contains(r.pcr())) both.add(r.pcr());
        return new Selection(List.copyOf(out), imaSkip, sdSkip, both);
    }

    /** TCG_PCClientTaggedEvent: u32 taggedEventID, u32 taggedEventDataSize, the OS's record. */
    public static byte[] taggedEvent(RuntimeRecord r) {
        byte[] raw = r.raw();
        return ByteBuffer.allocate(8 + raw.length).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(r.source().tagId).putInt(raw.length).put(raw).array();
    }

    /** The OS records of {@code source} in a log, as the raw records they carry, in log order. */
    static List<byte[]> logged(EventLog log, RuntimeRecord.Source source) {
        List<byte[]> out = new ArrayList<>();
        for (Event e : log.events()) {
            if (e.eventType() != EV_EVENT_TAG) continue;
            byte[] d = e.data();
            if (d.length < 8 || Le.i32(d, 0) != source.tagId) continue;
            long len = Le.u32(d, 4);
            if (len != d.length - 8L) continue;
            out.add(Arrays.copyOfRange(d, 8, d.length));
        }
        return out;
    }

    /** How many leading records of {@code current} the log already carries (0 if the list does not start with them). */
    private static int loggedPrefix(EventLog log, RuntimeRecord.Source source, List<RuntimeRecord> current) {
        List<byte[]> had = logged(log, source);
        if (had.isEmpty() || had.size() > current.size()) return 0;
        for (int i = 0; i < had.size(); i++) {
            if (!Arrays.equals(had.get(i), current.get(i).raw())) return 0;
        }
        return had.size();
    }
}
