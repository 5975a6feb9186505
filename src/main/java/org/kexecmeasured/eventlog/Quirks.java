package org.kexecmeasured.eventlog;

import org.kexecmeasured.eventlog.decode.DecodedEvent;
import org.kexecmeasured.eventlog.decode.EfiVariable;
import org.kexecmeasured.eventlog.decode.Separator;
import org.kexecmeasured.eventlog.decode.TaggedEvent;
import org.kexecmeasured.eventlog.decode.TextEvent;
import org.kexecmeasured.util.HashAlg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.kexecmeasured.eventlog.Finding.Severity.INFO;
import static org.kexecmeasured.eventlog.Finding.Severity.WARNING;

/**
 * Known firmware quirks and log inconsistencies, each under its own name. Detection only: the parser
 * and the replay never compensate for them (go-attestation style: quirks isolated and named).
 */
public final class Quirks {
    public static final String STARTUP_LOCALITY = "STARTUP_LOCALITY";
    public static final String STARTUP_LOCALITY_WITHOUT_SPEC_ID = "STARTUP_LOCALITY_WITHOUT_SPEC_ID";
    public static final String PCR_INDEX_FFFFFFFF_TRAILER = "PCR_INDEX_FFFFFFFF_TRAILER";
    public static final String PCR_INDEX_OUT_OF_RANGE = "PCR_INDEX_OUT_OF_RANGE";
    public static final String EBS_EVENTS_MISSING = "EBS_EVENTS_MISSING";
    public static final String EBS_FAILURE_THEN_RETRY = "EBS_FAILURE_THEN_RETRY";
    public static final String EBS_FAILURE_WITHOUT_SUCCESS = "EBS_FAILURE_WITHOUT_SUCCESS";
    public static final String DIGEST_NOT_HASH_OF_DATA = "DIGEST_NOT_HASH_OF_DATA";
    public static final String CALLING_EFI_APPLICATION_IN_PCR5 = "CALLING_EFI_APPLICATION_IN_PCR5";
    public static final String SEPARATOR_ERROR_VALUE = "SEPARATOR_ERROR_VALUE";
    public static final String SEPARATOR_MISSING = "SEPARATOR_MISSING";
    public static final String UNKNOWN_ALGORITHM = "UNKNOWN_ALGORITHM";
    public static final String DIGESTS_DIFFER_FROM_SPEC_ID = "DIGESTS_DIFFER_FROM_SPEC_ID";
    public static final String NO_ACTION_NONZERO_DIGEST = "NO_ACTION_NONZERO_DIGEST";
    public static final String MALFORMED_EVENT_DATA = "MALFORMED_EVENT_DATA";
    public static final String SPEC_ID_VENDOR_INFO = "SPEC_ID_VENDOR_INFO";
    public static final String SPEC_ID_TRAILING_BYTES = "SPEC_ID_TRAILING_BYTES";
    public static final String KEXEC_BOUNDARY = "KEXEC_BOUNDARY";
    public static final String TRAILING_ZERO_PADDING = "TRAILING_ZERO_PADDING";
    public static final String SPEC_ID_VENDOR_INFO_OUTSIDE_EVENT = "SPEC_ID_VENDOR_INFO_OUTSIDE_EVENT";

    public static final String EBS_INVOCATION = "Exit Boot Services Invocation";
    public static final String EBS_SUCCESS = "Exit Boot Services Returned with Success";
    public static final String EBS_FAILURE = "Exit Boot Services Returned with Failure";
    public static final String CALLING_EFI_APP = "Calling EFI Application from Boot Option";

    private Quirks() {
    }

    public static List<Finding> find(EventLog log) {
        List<Finding> out = new ArrayList<>();
        List<Event> ev = log.events();
        specId(log, out);
        if (log.zeroPadding() > 0) {
            out.add(new Finding(TRAILING_ZERO_PADDING, INFO, log.zeroPadding()
                    + " zero bytes follow the last record (an unused log area); kept, not parsed as records", List.of()));
        }
        startupLocality(log, out);
        pcrIndices(ev, out);
        exitBootServices(ev, out);
        digestsVsData(log, out);
        separators(ev, out);
        digestSets(log, out);
        noAction(ev, out);
        malformed(ev, out);
        kexecBoundary(ev, out);
        return out;
    }

    private static void specId(EventLog log, List<Finding> out) {
        SpecIdEvent s = log.specId();
        if (s == null) return;
        for (SpecIdEvent.Algorithm a : s.algorithms()) {
            if (a.hashAlg() == null) {
                out.add(new Finding(UNKNOWN_ALGORITHM, WARNING, String.format(
                        "Spec ID lists algorithm 0x%04x (%d-byte digests) that this tool cannot hash; that bank is kept but not replayed",
                        a.algId(), a.digestSize()), List.of(0)));
            }
        }
        if (s.vendorInfo().length > 0) {
            out.add(new Finding(SPEC_ID_VENDOR_INFO, INFO, "Spec ID header carries " + s.vendorInfo().length
                    + " bytes of vendorInfo", List.of(0)));
        }
        int overhang = log.events().get(0).overhangSize();
        if (overhang > 0) {
            out.add(new Finding(SPEC_ID_VENDOR_INFO_OUTSIDE_EVENT, WARNING, "the Spec ID record's EventSize leaves out its "
                    + overhang + " vendorInfo bytes, which follow the event in the file; they are read as vendorInfo and kept",
                    List.of(0)));
        }
        int extra = overhang > 0 ? 0 : EventLogParser.specIdTrailingBytes(s, log.events().get(0).dataSize());
        if (extra > 0) {
            out.add(new Finding(SPEC_ID_TRAILING_BYTES, WARNING, "Spec ID event has " + extra
                    + " bytes after vendorInfo (kept as they are)", List.of(0)));
        }
    }

    private static void startupLocality(EventLog log, List<Finding> out) {
        Event e = Replay.startupLocalityEvent(log);
        if (e == null) return;
        int loc = Replay.startupLocality(log);
        out.add(new Finding(STARTUP_LOCALITY, INFO, "StartupLocality event: the TPM was started from locality " + loc
                + ", so PCR 0 starts at 00…0" + loc + " in every bank", List.of(e.index())));
        if (log.format() == LogFormat.SHA1_LEGACY && e.index() == 0) {
            out.add(new Finding(STARTUP_LOCALITY_WITHOUT_SPEC_ID, WARNING,
                    "the log starts with an EV_NO_ACTION StartupLocality record and no Spec ID event; it is read as a SHA-1 format log",
                    List.of(0)));
        }
    }

    private static void pcrIndices(List<Event> ev, List<Finding> out) {
        List<Integer> trailer = new ArrayList<>();
        List<Integer> range = new ArrayList<>();
        for (Event e : ev) {
            if (e.pcrIndex() == 0xffffffffL && e.isNoAction()) trailer.add(e.index());
            else if (e.pcrIndex() >= Replay.PCR_COUNT) range.add(e.index());
        }
        if (!trailer.isEmpty()) {
            out.add(new Finding(PCR_INDEX_FFFFFFFF_TRAILER, INFO,
                    "EV_NO_ACTION record(s) with PCRIndex 0xFFFFFFFF (a Windows trailer); not extended", trailer));
        }
        if (!range.isEmpty()) {
            out.add(new Finding(PCR_INDEX_OUT_OF_RANGE, WARNING,
                    "extending record(s) name a PCR index above 23; replay skips them", range));
        }
    }

    private static String action(Event e) {
        if (e.eventType() != EventType.EV_EFI_ACTION) return null;
        return new String(e.dataNoCopy(), StandardCharsets.ISO_8859_1);
    }

    private static void exitBootServices(List<Event> ev, List<Finding> out) {
        List<Integer> inv = new ArrayList<>();
        List<Integer> ok = new ArrayList<>();
        List<Integer> fail = new ArrayList<>();
        List<Integer> calling = new ArrayList<>();
        boolean booted = false;
        for (Event e : ev) {
            String a = action(e);
            if (e.eventType() == EventType.EV_EFI_BOOT_SERVICES_APPLICATION) booted = true;
            if (a == null) continue;
            if (a.equals(EBS_INVOCATION)) inv.add(e.index());
            else if (a.equals(EBS_SUCCESS)) ok.add(e.index());
            else if (a.equals(EBS_FAILURE)) fail.add(e.index());
            else if (a.equals(CALLING_EFI_APP)) {
                booted = true;
                if (e.pcrIndex() == Pcr.BOOT_LOADER_CONFIG) calling.add(e.index());
            }
        }
        if (!calling.isEmpty()) {
            out.add(new Finding(CALLING_EFI_APPLICATION_IN_PCR5, INFO,
                    "\"" + CALLING_EFI_APP + "\" is measured into PCR 5, not PCR 4 (TCG EFI Platform 1.22 firmware)", calling));
        }
        if (booted && inv.isEmpty() && ok.isEmpty() && fail.isEmpty()) {
            out.add(new Finding(EBS_EVENTS_MISSING, WARNING,
                    "an EFI application was started but the log has no ExitBootServices events; firmware of this kind "
                            + "often extends PCR 5 with them without logging, so PCR 5 may not replay", List.of()));
        }
        if (!fail.isEmpty()) {
            int firstFail = fail.get(0);
            boolean retried = inv.stream().anyMatch(i -> i > firstFail) || ok.stream().anyMatch(i -> i > firstFail);
            List<Integer> all = new ArrayList<>(fail);
            all.addAll(inv);
            all.addAll(ok);
            all.sort(null);
            if (retried) {
                out.add(new Finding(EBS_FAILURE_THEN_RETRY, INFO,
                        "ExitBootServices failed (stale map key) and was retried: Failure → Invocation → Success", all));
            }
            if (ok.isEmpty()) {
                out.add(new Finding(EBS_FAILURE_WITHOUT_SUCCESS, WARNING,
                        "ExitBootServices returned with Failure and no later Success is logged", all));
            }
        }
    }

    /**
     * The byte strings a record's digest may be the hash of, or null when its type does not define
     * it. H(event data): separators, EFI actions, S-CRTM version, tagged events other than the
     * Linux-stub and systemd tags (those hash the caller's buffer), UEFI_VARIABLE_DATA of
     * DRIVER_CONFIG / AUTHORITY / BOOT2. EV_EFI_VARIABLE_BOOT: H(whole) or H(VariableData), since
     * EDK2 hashes only the variable's data (measurements.md §3).
     */
    private static List<byte[]> digestInputs(Event e) {
        switch (e.eventType()) {
            case EventType.EV_SEPARATOR:
            case EventType.EV_EFI_ACTION:
            case EventType.EV_S_CRTM_VERSION:
                return List.of(e.dataNoCopy());
            case EventType.EV_EVENT_TAG: {
                if (!(e.decoded() instanceof TaggedEvent t)) return null;
                if (t.taggedEventId() == TaggedEvent.KEXEC_BOUNDARY) return List.of(t.taggedEventData());
                return t.tagName() == null ? List.of(e.dataNoCopy()) : null;
            }
            case EventType.EV_EFI_VARIABLE_DRIVER_CONFIG:
            case EventType.EV_EFI_VARIABLE_AUTHORITY:
            case EventType.EV_EFI_VARIABLE_BOOT2:
                return e.decoded() instanceof EfiVariable ? List.of(e.dataNoCopy()) : null;
            case EventType.EV_EFI_VARIABLE_BOOT:
                return e.decoded() instanceof EfiVariable v ? List.of(e.dataNoCopy(), v.variableData()) : null;
            default:
                return null;
        }
    }

    private static void digestsVsData(EventLog log, List<Finding> out) {
        for (Event e : log.events()) {
            List<byte[]> inputs = digestInputs(e);
            if (inputs == null) continue;
            List<String> bad = new ArrayList<>();
            for (Digest d : e.digestList()) {
                HashAlg a = d.hashAlg();
                if (a == null) continue;
                boolean ok = false;
                for (byte[] in : inputs) ok |= Arrays.equals(a.digest(in), d.value());
                if (!ok) bad.add(a.tpmName);
            }
            if (!bad.isEmpty()) {
                DecodedEvent dec = e.decoded();
                String what = dec instanceof TextEvent t ? " \"" + org.kexecmeasured.eventlog.decode.Text.escape(t.text()) + "\""
                        : dec instanceof EfiVariable v ? " " + org.kexecmeasured.eventlog.decode.Text.escape(v.unicodeName()) : "";
                out.add(new Finding(DIGEST_NOT_HASH_OF_DATA, WARNING, e.eventTypeName() + what + " in PCR " + e.pcrIndex()
                        + ": the " + String.join("/", bad) + " digest is not the hash of the event data (replay uses the digest as logged)",
                        List.of(e.index())));
            }
        }
    }

    private static void separators(List<Event> ev, List<Finding> out) {
        boolean[] seen = new boolean[8];
        boolean any = false;
        List<Integer> errors = new ArrayList<>();
        for (Event e : ev) {
            if (e.eventType() != EventType.EV_SEPARATOR) continue;
            any = true;
            if (e.pcrIndex() < 8) seen[(int) e.pcrIndex()] = true;
            if (e.decoded() instanceof Separator s && s.value() == 0xffffffffL) errors.add(e.index());
        }
        if (!errors.isEmpty()) {
            out.add(new Finding(SEPARATOR_ERROR_VALUE, WARNING, "separator(s) with the error value FFFFFFFF", errors));
        }
        if (any) {
            List<String> missing = new ArrayList<>();
            for (int i = 0; i < 8; i++) if (!seen[i]) missing.add(Integer.toString(i));
            if (!missing.isEmpty()) {
                out.add(new Finding(SEPARATOR_MISSING, INFO, "no EV_SEPARATOR for PCR " + String.join(", ", missing),
                        List.of()));
            }
        }
    }

    private static void digestSets(EventLog log, List<Finding> out) {
        if (log.format() != LogFormat.CRYPTO_AGILE) return;
        List<SpecIdEvent.Algorithm> algs = log.specId().algorithms();
        List<Integer> odd = new ArrayList<>();
        for (Event e : log.events()) {
            if (e.isLegacyRecord()) continue;
            List<Digest> ds = e.digestList();
            boolean same = ds.size() == algs.size();
            for (int i = 0; same && i < ds.size(); i++) same = ds.get(i).algId() == algs.get(i).algId();
            if (!same) odd.add(e.index());
        }
        if (!odd.isEmpty()) {
            out.add(new Finding(DIGESTS_DIFFER_FROM_SPEC_ID, WARNING,
                    "record(s) whose digest list is not exactly the Spec ID banks in header order; a bank without a digest is not extended by them",
                    odd));
        }
    }

    private static void noAction(List<Event> ev, List<Finding> out) {
        List<Integer> l = new ArrayList<>();
        for (Event e : ev) {
            if (!e.isNoAction()) continue;
            for (Digest d : e.digestList()) {
                for (byte x : d.value()) {
                    if (x != 0) {
                        l.add(e.index());
                        break;
                    }
                }
                if (!l.isEmpty() && l.get(l.size() - 1) == e.index()) break;
            }
        }
        if (!l.isEmpty()) {
            out.add(new Finding(NO_ACTION_NONZERO_DIGEST, INFO, "EV_NO_ACTION record(s) with non-zero digests (never extended)", l));
        }
    }

    /** kexec-measured boundary records: what follows them in their PCR comes from a kexec'd, emulated boot. */
    private static void kexecBoundary(List<Event> ev, List<Finding> out) {
        List<Integer> recs = new ArrayList<>();
        java.util.TreeSet<Long> pcrs = new java.util.TreeSet<>();
        for (Event e : ev) {
            if (e.eventType() == EventType.EV_EVENT_TAG && e.decoded() instanceof TaggedEvent t
                    && t.taggedEventId() == TaggedEvent.KEXEC_BOUNDARY) {
                recs.add(e.index());
                pcrs.add(e.pcrIndex());
            }
        }
        if (!recs.isEmpty()) {
            out.add(new Finding(KEXEC_BOUNDARY, INFO, "kexec-measured boundary in PCR " + pcrs.toString().replaceAll("[\\[\\]]", "")
                    + ": later records in those PCRs come from a kexec'd boot chain run in user space, not from firmware", recs));
        }
    }

    private static void malformed(List<Event> ev, List<Finding> out) {
        for (Event e : ev) {
            DecodedEvent d = e.decoded();
            if (d.malformed()) {
                out.add(new Finding(MALFORMED_EVENT_DATA, WARNING, e.eventTypeName() + " in PCR " + e.pcrIndex() + ": "
                        + ((DecodedEvent.Malformed) d).reason(), List.of(e.index())));
            }
        }
    }
}
