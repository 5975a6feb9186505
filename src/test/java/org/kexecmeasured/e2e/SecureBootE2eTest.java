package org.kexecmeasured.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.kexecmeasured.eventlog.Replay;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * File mode under Secure Boot and lockdown (tests/e2e "secure-boot"): OVMF with Debian's snakeoil keys
 * enrolled boots a snakeoil-signed UKI; the running kernel is locked down (integrity) and checks kexec
 * images against its keyrings (db → platform keyring). The kernel is the oracle: it refuses the UKI
 * whose inner kernel is unsigned — at load, before anything reached the TPM (PCRs read before and
 * after) — and boots the one whose inner kernel carries a snakeoil signature.
 */
@Tag("e2e")
class SecureBootE2eTest {
    static Path run;

    @BeforeAll
    static void boot() {
        run = E2eRun.run("secure-boot");
    }

    @Test
    void theFirstGenerationIsLockedDown() {
        String l = E2eRun.text(E2eRun.stage(run, "sb1").resolve("lockdown"));
        assertTrue(l.contains("[integrity]") || l.contains("[confidentiality]"), l);
    }

    @Test
    void anUnsignedInnerKernelIsRefusedAtLoadAndTheTpmIsUntouched() {
        Path s = E2eRun.stage(run, "sb1");
        String err = E2eRun.text(s.resolve("unsigned.err"));
        assertEquals("1", E2eRun.text(s.resolve("unsigned.rc")).strip(), "a rejected signature is a failed check: " + err);
        // under lockdown the kernel demands a signed image (ENODATA: no signature; EKEYREJECTED: a wrong one),
        // and the tool names that refusal and the syscall
        assertTrue(err.contains("kexec_file_load") && (err.contains("signature") || err.contains("locked down")), err);
        // PCR 10: IMA's Secure Boot arch policy measures the kexec image the kernel read
        E2eRun.assertSamePcrsButIma(E2eRun.pcrs(s.resolve("pcrs-before-unsigned.txt")),
                E2eRun.pcrs(s.resolve("pcrs-after-unsigned.txt")), "refused load left");
        assertFalse(s.resolve("unsigned.state.journal.jsonl").toFile().exists(), "no journal: nothing was committed");
    }

    @Test
    void theSnakeoilSignedInnerKernelBootsAndReplays() {
        Path s1 = E2eRun.stage(run, "sb1");
        assertFalse(s1.resolve("boot.rc").toFile().exists(), () -> "boot --exec returned: " + E2eRun.text(s1.resolve("boot.err")));
        Path s2 = E2eRun.stage(run, "sb2");
        assertEquals("sb2", E2eRun.text(s2.resolve("uki")).strip());
        assertTrue(E2eRun.text(s2.resolve("lockdown")).contains("[integrity]"), "still locked down after the kexec");
        Map<HashAlg, byte[][]> tpm = E2eRun.pcrs(s2.resolve("pcrs.txt"));
        Map<HashAlg, byte[][]> ours = Replay.replay(E2eRun.log(s2.resolve("sidecar/tpm2-event-log.bin")));
        Map<HashAlg, byte[][]> theirs = Tpm2EventlogOracle.replay(s2.resolve("sidecar/tpm2-event-log.bin"));
        for (HashAlg a : tpm.keySet()) {
            for (int i = 0; i < 16; i++) {
                // PCR 10: IMA measured the kexec image at load time, after the sidecar was written
                // (tcg2/os-records.md rule 4): the next generation sees it as divergent
                if (i == 10) continue;
                assertArrayEquals(tpm.get(a)[i], ours.get(a)[i], a + " PCR " + i + " (our replay)");
                assertArrayEquals(tpm.get(a)[i], theirs.get(a)[i], a + " PCR " + i + " (tpm2_eventlog)");
            }
        }
    }
}
