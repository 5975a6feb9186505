package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.ForgedDigestTest;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The boot's "does the firmware log explain the TPM" check must not trust a bank a record left out. */
class DivergenceUnverifiableTest {

    @Test
    void recordWithoutTheBanksDigestIsADivergence() {
        EventLog log = ForgedDigestTest.forgedSha1Only();
        // a TPM whose PCRs are exactly the log's replay: the forged record is invisible to the sha256 replay
        Map<HashAlg, byte[][]> tpm = new EnumMap<>(HashAlg.class);
        tpm.putAll(Replay.replay(log));
        List<Divergence> d = Planner.divergentPcrs(log, org.kexecmeasured.eventlog.PcrSet.of(tpm), new ArrayList<>());
        assertEquals(1, d.size(), d.toString());
        assertEquals(HashAlg.SHA256, d.get(0).bank());
        assertEquals(7, d.get(0).pcr());
        assertTrue(d.get(0).explanation() != null && d.get(0).explanation().contains("#3"), String.valueOf(d.get(0).explanation()));
    }
}
