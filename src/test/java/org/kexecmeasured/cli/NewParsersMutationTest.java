package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.boot.Plan;
import org.kexecmeasured.boot.Sidecar;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.eventlog.runtime.ImaLog;
import org.kexecmeasured.eventlog.runtime.OsRecords;
import org.kexecmeasured.eventlog.runtime.RuntimeRecord;
import org.kexecmeasured.eventlog.runtime.SystemdMeasureLog;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.util.AtomicFiles;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Mutator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 10, hostile inputs for the parsers merged in session 2 that read what another party may have
 * written: IMA's binary runtime log and systemd's tpm2-measure.log (read by every {@code boot} from the
 * running OS), and {@code pending.json} of {@code boot --at-shutdown} (read by the system-shutdown hook
 * as root). Seeded mutations ({@link Mutator}) of a real input each; the oracle for every one: only
 * success or a {@link BadInputException} with a one-line message naming the input (and for the logs the
 * record and offset) leaves the parser and what the boot does next with its result, never another
 * exception, and whatever is accepted is self-consistent (a log's records are the input byte for byte;
 * IMA records carry the SHA-1 IMA listed; a pending boot rebuilds its boundary event). The journal
 * (format 2) has its coverage-guided target in {@code JournalJazzerFuzzTest}. A failure prints the seed
 * and iteration; {@code -Dmutation.seed=} replays it. The slow-tagged run does 50 times as many.
 */
class NewParsersMutationTest {
    static final int RUNS = Integer.getInteger("mutation.runs", 3000);
    static final long SEED = Long.getLong("mutation.seed", 20261205L);

    @TempDir
    static Path dir;
    /** A pending directory {@code boot --at-shutdown} wrote (PendingBoot.save of a real plan). */
    static Path pending;
    static Plan plan;

    @BeforeAll
    static void prepare() throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki"));
        Path fw = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fw)) {
            try (Tpm tpm = swtpm.open()) {
                plan = MeasuredBoot.plan(new MeasuredBoot.Request(Files.readAllBytes(uki.resolve("demo.efi")), "demo.efi",
                        null, fw, dir.resolve("state"), null, BootPolicy.BUILTIN_DEFAULT, "test", 120_000), tpm);
            }
        }
        Files.createDirectories(dir.resolve("state"));
        pending = dir.resolve("pending");
        PendingBoot.save(plan, Map.of("policy.txt", "allowed\n".getBytes(StandardCharsets.UTF_8)), java.util.Set.of(11),
                dir.resolve("state"), pending, "/usr/bin/kexec-measured", "swtpm:");
    }

    // ------------------------------------------------------------------ IMA

    static byte[] imaList() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        // the real guest's boot_aggregate (tests/e2e), then ima-ng, ima-sig and legacy entries in the kernel's layout
        try (InputStream in = NewParsersMutationTest.class.getResourceAsStream("/org/kexecmeasured/eventlog/runtime/qemu-ovmf-uki-ima.bin")) {
            if (in == null) throw new AssertionError("test resource qemu-ovmf-uki-ima.bin missing");
            b.writeBytes(in.readAllBytes());
        }
        b.writeBytes(imaEntry("ima-ng", ngData("sha256:", HashAlg.SHA256.digest("a".getBytes()), "/usr/bin/true")));
        b.writeBytes(imaEntry("ima-sig", concat(ngData("sha256:", HashAlg.SHA256.digest("b".getBytes()), "/usr/lib/x.so"),
                lenPrefixed(new byte[]{3, 2, 1}))));
        b.writeBytes(imaLegacy(HashAlg.SHA1.digest("c".getBytes()), "/etc/fstab"));
        return b.toByteArray();
    }

    /** An entry as ima_measurements_show writes it: pcr, SHA-1 of the template data, name, data. */
    static byte[] imaEntry(String template, byte[] data) {
        return concat(le32(10), HashAlg.SHA1.digest(data), le32(template.length()), template.getBytes(StandardCharsets.US_ASCII),
                le32(data.length), data);
    }

    /** The legacy "ima" template: its digest covers the file digest and the name padded to 256 bytes. */
    static byte[] imaLegacy(byte[] fileSha1, String name) {
        byte[] hashed = new byte[20 + 256];
        System.arraycopy(fileSha1, 0, hashed, 0, 20);
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(n, 0, hashed, 20, n.length);
        return concat(le32(10), HashAlg.SHA1.digest(hashed), le32(3), "ima".getBytes(StandardCharsets.US_ASCII), fileSha1,
                le32(n.length), n);
    }

    static byte[] ngData(String algo, byte[] digest, String name) {
        byte[] d = concat((algo + "\0").getBytes(StandardCharsets.US_ASCII), digest);
        return concat(lenPrefixed(d), lenPrefixed((name + "\0").getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void imaRuntimeLog() throws IOException {
        byte[] seed = imaList();
        assertEquals(4, ImaLog.parse(seed, List.of(HashAlg.SHA1, HashAlg.SHA256)).size(), "the unmutated list parses");
        run("IMA measurement list", seed, false, b -> {
            List<RuntimeRecord> r = ImaLog.parse(b, List.of(HashAlg.SHA1, HashAlg.SHA256));
            checkRecords(b, r);
            for (RuntimeRecord x : r) {
                assertEquals(20, x.digests().get(HashAlg.SHA1).length);
                OsRecords.taggedEvent(x);
            }
            return r.size();
        }, "IMA measurement list: record ");
    }

    // ------------------------------------------------------------------ systemd

    static byte[] systemdLog() {
        StringBuilder s = new StringBuilder();
        String[][] recs = {{"11", "phase", "enter-initrd"}, {"11", "phase", "leave-initrd"}, {"15", "machine-id", "0123"},
                {"15", "filesystem", "/:ext4"}, {"11", "phase", "ready"}};
        for (String[] r : recs) {
            String text = r[2];
            s.append('\u001e').append("{\"pcr\":").append(r[0]).append(",\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"")
                    .append(Hex.of(HashAlg.SHA256.digest(text.getBytes(StandardCharsets.UTF_8))))
                    .append("\"},{\"hashAlg\":\"sha1\",\"digest\":\"")
                    .append(Hex.of(HashAlg.SHA1.digest(text.getBytes(StandardCharsets.UTF_8))))
                    .append("\"}],\"content_type\":\"systemd\",\"content\":{\"eventType\":\"").append(r[1])
                    .append("\",\"string\":\"").append(text).append("\"}}\n");
        }
        return s.toString().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void systemdMeasureLog() {
        byte[] seed = systemdLog();
        assertEquals(5, SystemdMeasureLog.parse(seed).size(), "the unmutated log parses");
        run("systemd TPM measurement log", seed, true, b -> {
            List<RuntimeRecord> r = SystemdMeasureLog.parse(b);
            for (RuntimeRecord x : r) {
                assertTrue(x.pcr() >= 0 && x.pcr() <= 23, "pcr " + x.pcr());
                x.digests().forEach((a, d) -> assertEquals(a.size, d.length, a + " digest size"));
                OsRecords.taggedEvent(x);
            }
            return r.size();
        }, "systemd TPM measurement log");
    }

    // ------------------------------------------------------------------ pending.json

    @Test
    void pendingBoot() throws IOException {
        byte[] seed = Files.readAllBytes(pending.resolve(PendingBoot.FILE));
        Path work = dir.resolve("pending-mutated");
        Files.createDirectories(work);
        for (String f : List.of("kernel.bin", "initrd.bin", "tool")) Files.copy(pending.resolve(f), work.resolve(f));
        Function<byte[], Integer> step = b -> {
            try {
                AtomicFiles.write(work.resolve(PendingBoot.FILE), b);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            PendingBoot p = PendingBoot.read(work);
            // the decider commit-pending builds from it
            org.kexecmeasured.boot.Decider.builtin(new java.util.HashSet<>(p.policy().tolerateDivergent()));
            // what PendingCommit does next with it: its directories, the plan on the same log and PCRs
            Path.of(p.stateDir());
            Path.of(p.firmwareLogSource());
            Plan rebuilt = p.plan(work, plan.firmwareLog(), plan.pcrsBefore(), "test", new ArrayList<>());
            Sidecar.from(rebuilt, p.sidecarExtraFileBytes());
            assertArrayEquals(plan.handOff().kernel(), rebuilt.handOff().kernel());
            for (var r : rebuilt.records()) {
                int pcr = r.measurement().pcr();
                assertTrue(pcr >= 0 && pcr <= 23, "pcr " + pcr);
            }
            return rebuilt.records().size();
        };
        assertEquals(plan.records().size(), step.apply(seed), "the unmutated pending boot rebuilds the plan");
        // each run rebuilds a plan and its sidecar (tens of ms): a third of the runs of the log parsers
        run("pending.json", seed, true, step, work.toString(), 3);
    }

    @Test
    @Tag("slow")
    void longRuns() throws IOException {
        int n = RUNS * 50;
        System.setProperty("mutation.runs.now", String.valueOf(n));
        try {
            imaRuntimeLog();
            systemdMeasureLog();
            pendingBoot();
        } finally {
            System.clearProperty("mutation.runs.now");
        }
    }

    // ------------------------------------------------------------------ harness

    /**
     * {@code runs} mutations of {@code seed} through {@code step}: success, or a one-line
     * BadInputException whose message contains {@code names}; anything else fails with the seed and
     * iteration. Both outcomes must occur, or the mutations did not test anything.
     */
    private static void run(String what, byte[] seed, boolean text, Function<byte[], Integer> step, String names) {
        run(what, seed, text, step, names, 1);
    }

    private static void run(String what, byte[] seed, boolean text, Function<byte[], Integer> step, String names, int divisor) {
        int runs = Integer.getInteger("mutation.runs.now", RUNS) / divisor;
        Mutator m = new Mutator(SEED ^ what.hashCode());
        int ok = 0, refused = 0;
        List<String> samples = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            byte[] b = text ? m.text(seed) : m.binary(seed);
            try {
                step.apply(b);
                ok++;
            } catch (BadInputException e) {
                refused++;
                String msg = e.getMessage();
                if (msg == null || msg.isBlank() || msg.contains("\n") || !msg.contains(names)) {
                    fail(what + " seed " + SEED + " iteration " + i + ": unclear message: " + msg);
                }
                if (samples.size() < 5 && !samples.contains(msg)) samples.add(msg);
            } catch (Throwable t) {
                fail(what + " seed " + SEED + " iteration " + i + ": " + t + "\ninput: "
                        + (text ? new String(b, StandardCharsets.UTF_8) : Hex.of(Arrays.copyOf(b, Math.min(b.length, 512)))), t);
            }
        }
        System.out.printf("%s: %d mutations, %d accepted, %d refused; e.g. %s%n", what, runs, ok, refused, samples);
        assertTrue(refused > runs / 10, what + ": only " + refused + " of " + runs + " refused: the mutations are too mild");
        assertTrue(ok > 0 || runs < 100, what + ": nothing accepted: the mutations never reach the later checks");
    }

    /** An accepted log is the input, record after record, byte for byte. */
    private static void checkRecords(byte[] input, List<RuntimeRecord> r) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (RuntimeRecord x : r) all.writeBytes(x.raw());
        assertArrayEquals(input, all.toByteArray(), "the records cover the input exactly");
        for (RuntimeRecord x : r) {
            boolean violation = Arrays.equals(x.digests().get(HashAlg.SHA1), ones(20));
            if (!violation) {
                // IMA lists the SHA-1 of the template data at offset 4
                assertArrayEquals(Arrays.copyOfRange(x.raw(), 4, 24), x.digests().get(HashAlg.SHA1));
            }
        }
    }

    private static byte[] ones(int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) 0xff);
        return b;
    }

    static byte[] le32(long v) {
        return new byte[]{(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
    }

    static byte[] lenPrefixed(byte[] b) {
        return concat(le32(b.length), b);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }
}
