package org.kexecmeasured.boot;

import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A plan moved onto a later state of the machine: the same boundary and records (the payload is not
 * run again), a newer reading of the PCRs and a newer log head (the running OS measured more since the
 * plan was made, e.g. systemd's {@code shutdown} and {@code final} phases on the way to a kexec). What
 * the system-shutdown hook commits, right before the kexec reboot: the predictions hold again because
 * they start from PCRs read at that moment.
 */
public final class PlanRebase {
    private PlanRebase() {
    }

    /**
     * @param head   the log the plan now continues (firmware log + the OS records it lacks); its banks must be the plan's log banks
     * @param before every PCR of every TPM bank, read now
     */
    public static Plan rebase(Plan p, EventLog head, PcrSet before, String pcrSource, List<String> notes) {
        if (!head.banks().equals(p.logBanks())) {
            throw new BadInputException("the log's banks " + head.banks() + " are not those the plan was made for "
                    + p.logBanks() + "; make a new plan");
        }
        if (!before.values().keySet().equals(new java.util.HashSet<>(p.tpmBanks()))) {
            throw new BadInputException("the TPM's active banks " + before.values().keySet() + " are not those the plan was made for "
                    + p.tpmBanks() + "; make a new plan");
        }
        List<String> n = new ArrayList<>(p.notes());
        n.addAll(notes);
        List<Divergence> divergences = Planner.divergentPcrs(head, before, n);
        Map<HashAlg, byte[][]> predicted = new EnumMap<>(HashAlg.class);
        for (HashAlg a : p.tpmBanks()) {
            byte[][] v = new byte[Replay.PCR_COUNT][];
            before.values().get(a).forEach((i, d) -> v[i] = d.clone());
            predicted.put(a, v);
        }
        EventLog.Builder log = head.toBuilder();
        for (PlannedRecord r : p.records()) {
            Measurement m = r.measurement();
            switch (r.disposition()) {
                case EXTEND -> {
                    r.tpmDigests(p.tpmBanks()).forEach((a, d) -> predicted.get(a)[m.pcr()] = a.extend(predicted.get(a)[m.pcr()], d));
                    log.append(m.pcr(), m.eventType(), r.logDigests(p.logBanks()), m.eventData());
                }
                case LOG_ONLY -> log.append(m.pcr(), m.eventType(), r.logDigests(p.logBanks()), m.eventData());
                case SIDE_RECORD -> {
                }
            }
        }
        return new Plan(p.payloadName(), p.payloadAuthenticodeSha256(), p.policy(), p.toolVersion(), p.firmwareLogSource(),
                head, pcrSource, p.tpmBanks(), p.logBanks(), before, divergences, p.boundary(), p.records(),
                PcrSet.of(predicted), log.build(), p.handOff(), p.stats(), n, p.resume(), p.images());
    }
}
