package org.kexecmeasured.cli;

import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmOpener;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;

/**
 * The TPMs one command opened through {@link Services}, kept so that {@link Main} can tell after the command failed
 * whether it sent any command that changes a PCR: an error may be called "nothing changed" (exit 2) only when none was
 * sent. The transport counts a command before it goes out ({@code TpmTransport.transact}), so one whose response
 * never came counts too.
 */
final class OpenedTpms implements TpmOpener {

    /**
     * TPM_CC of the commands that change PCR values or banks (TPM 2.0 Part 2, table 12): PCR_Allocate, PCR_Event,
     * PCR_Reset, PCR_Extend, EventSequenceComplete.
     */
    static final Set<Integer> PCR_CHANGING = Set.of(0x12B, 0x13C, 0x13D, 0x182, 0x185);

    private final TpmOpener opener;
    private final List<Tpm> opened = new ArrayList<>();

    OpenedTpms(TpmOpener opener) {
        this.opener = opener;
    }

    @Override
    public Tpm open(String tcti) {
        Tpm t = opener.open(tcti);
        synchronized (opened) {
            opened.add(t);
        }
        return t;
    }

    /** Whether any TPM opened so far was sent a PCR-changing command (its counts stay readable after close). */
    boolean pcrChangeSent() {
        synchronized (opened) {
            for (Tpm t : opened) {
                SortedMap<Integer, Long> counts = t.commandCounts();
                for (int cc : PCR_CHANGING) {
                    if (counts.getOrDefault(cc, 0L) > 0) return true;
                }
            }
        }
        return false;
    }
}
