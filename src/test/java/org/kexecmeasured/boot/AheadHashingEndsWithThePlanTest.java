package org.kexecmeasured.boot;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.SyntheticLog;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.tpm.PcrReader;
import org.kexecmeasured.tpm.PcrSelection;
import org.kexecmeasured.uefi.TestPayloads;
import org.kexecmeasured.util.HashAlg;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A plan that fails in the emulation returns only after the sections it hashes ahead are done: the command closes the
 * payload right after (its read lease released, so a writer may truncate the file at once), and a thread still
 * reading the mapping natively would then die of SIGBUS and take the JVM with it (no exit code).
 */
class AheadHashingEndsWithThePlanTest {

    private static final List<HashAlg> BANKS = List.of(HashAlg.SHA256);
    private final Executor original = Hashing.workerThreads;

    @AfterEach
    void restore() {
        Hashing.workerThreads = original;
    }

    @Test
    @Timeout(120)
    void aFailedEmulationWaitsForTheSectionsHashedAhead(@TempDir Path dir) throws Exception {
        // ud2 at the entry point (the emulation faults at once) and a 2 MiB .initrd (a UKI section: hashed ahead)
        byte[] initrd = new byte[2 << 20];
        new Random(7).nextBytes(initrd);
        Path payload = dir.resolve("ud2-uki.efi");
        Files.write(payload, TestPayloads.efiApp(TestPayloads.bytes(0x0F, 0x0B), ".initrd", initrd));
        Path fw = dir.resolve("fw.bin");
        Files.write(fw, SyntheticLog.generate(BANKS, 0, 1).toBytes());

        AtomicInteger started = new AtomicInteger();
        AtomicBoolean ended = new AtomicBoolean();
        Hashing.workerThreads = r -> original.execute(() -> {
            started.incrementAndGet();
            try {
                Thread.sleep(500); // still hashing when the emulation has long failed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ended.set(true); // just before the hashing, which completes what the plan waits for
            r.run();
        });
        try (PayloadFile pf = PayloadFile.open(payload)) {
            MeasuredBoot.Request req = new MeasuredBoot.Request(pf, "ud2-uki.efi", null, fw, dir.resolve("state"), null,
                    BootPolicy.BUILTIN_DEFAULT, "test", 60_000, java.time.Duration.ZERO, null, null, OsLogs.NONE);
            RuntimeException e = assertThrows(RuntimeException.class, () -> MeasuredBoot.plan(req, new ZeroPcrs()));
            assertEquals(1, started.get(), "the .initrd was hashed ahead (" + e + ")");
            assertTrue(ended.get(), "the plan failed (" + e.getMessage() + ") while a section was still hashed ahead");
        }
    }

    /** PCRs all zero in SHA-256, as a Spec-ID-only firmware log replays. */
    private static final class ZeroPcrs implements PcrReader {
        @Override
        public String source() {
            return "test reader";
        }

        @Override
        public List<HashAlg> banks() {
            return BANKS;
        }

        @Override
        public Map<HashAlg, byte[][]> readPcrs(PcrSelection selection) {
            Map<HashAlg, byte[][]> out = new EnumMap<>(HashAlg.class);
            for (HashAlg a : selection.banks()) {
                List<Integer> pcrs = selection.pcrs(a);
                byte[][] v = new byte[pcrs.isEmpty() ? 0 : pcrs.get(pcrs.size() - 1) + 1][];
                for (int p : pcrs) v[p] = new byte[a.size];
                out.put(a, v);
            }
            return out;
        }

        @Override
        public byte[] random(int n) {
            return new byte[n];
        }
    }
}
