package org.kexecmeasured.cli;

import org.kexecmeasured.eventlog.PcrSet;
import org.kexecmeasured.eventlog.PcrSource;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.error.TpmException;
import org.kexecmeasured.tpm.TpmOpener;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.stream.IntStream;

/** Live PCR values: all 24 PCRs of the requested banks that the TPM has active, in one read batch. */
final class TpmPcrSource implements PcrSource {
    private final String tcti;
    private final TpmOpener opener;

    TpmPcrSource(String tcti, TpmOpener opener) {
        this.tcti = tcti;
        this.opener = opener;
    }

    @Override
    public PcrSet read(List<HashAlg> banks, BitSet pcrs) {
        try (Tpm tpm = opener.open(tcti)) {
            List<HashAlg> sel = new ArrayList<>();
            for (HashAlg a : tpm.banks()) if (banks.contains(a)) sel.add(a);
            if (sel.isEmpty()) {
                throw new TpmException("the TPM has none of the banks " + banks.stream().map(a -> a.tpmName).toList()
                        + " active (it has " + tpm.banks().stream().map(a -> a.tpmName).toList() + ")");
            }
            return PcrSet.of(tpm.readPcrs(PcrSelection.of(sel, IntStream.range(0, Replay.PCR_COUNT).boxed().toList())));
        } catch (TpmException e) {
            throw new BadInputException("TPM " + tcti + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String describe() {
        return "TPM " + tcti;
    }
}
