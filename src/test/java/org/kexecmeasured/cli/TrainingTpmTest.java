package org.kexecmeasured.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.tpm.TpmCommandException;
import org.kexecmeasured.tpm.TssTpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.util.HashAlg;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The class-data-sharing training's in-process TPM ({@link TrainingTpm}) against a real one: the same calls through
 * {@link TssTpm} (TSS.Java marshalling the commands and parsing the answers) on swtpm and on the training TPM give the
 * same banks, PCR count and PCR values, before and after extends of every bank; reads of more than 8 PCRs take the
 * several TPM2_PCR_Read commands a real TPM needs. The oracle is swtpm.
 */
@ExtendWith(SwtpmExtension.class)
@SwtpmExtension.Banks({"sha1", "sha256", "sha384"})
class TrainingTpmTest {

    @Test
    void answersAsSwtpmDoes(Swtpm swtpm) {
        List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        TrainingTpm training = new TrainingTpm("training", banks);
        try (TssTpm real = swtpm.open(); TssTpm ours = training.open()) {
            assertEquals(real.banks(), ours.banks(), "active banks");
            assertEquals(real.info().pcrCount(), ours.info().pcrCount(), "PCR count");
            assertEquals(real.info().activeBanks(), ours.info().activeBanks(), "active banks (TPM_CAP_PCRS)");
            PcrSelection all = PcrSelection.of(banks, java.util.stream.IntStream.range(0, 24).boxed().toList());
            assertPcrsEqual(real.readPcrs(all), ours.readPcrs(all), banks);
            for (int pcr : new int[]{4, 11, 12, 23}) {
                Map<HashAlg, byte[]> digests = new LinkedHashMap<>();
                for (HashAlg b : banks) digests.put(b, b.digest(new byte[]{(byte) pcr, (byte) b.algId}));
                real.extend(pcr, digests);
                ours.extend(pcr, digests);
            }
            assertPcrsEqual(real.readPcrs(all), ours.readPcrs(all), banks);
            assertEquals(16, ours.random(16).length, "TPM2_GetRandom");
            // a command it does not hold (sealing) is refused as a TPM refuses one
            assertThrows(TpmCommandException.class, () -> ours.readPublic(0x81000001));
        }
    }

    private static void assertPcrsEqual(Map<HashAlg, byte[][]> real, Map<HashAlg, byte[][]> ours, List<HashAlg> banks) {
        for (HashAlg b : banks) {
            for (int i = 0; i < 24; i++) assertArrayEquals(real.get(b)[i], ours.get(b)[i], b + " PCR " + i);
        }
    }
}
