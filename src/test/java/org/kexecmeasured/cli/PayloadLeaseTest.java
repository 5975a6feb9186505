package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.BootPolicy;
import org.kexecmeasured.boot.Decision;
import org.kexecmeasured.boot.Loader;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.payload.PayloadFile;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.Json;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The boot on a mapped payload (issue 14) keeps the bytes it checked: a payload file someone has open for writing is
 * copied instead (and the stats say so); an open for writing after the plan is refused before the first TPM write,
 * the TPM (tpm2_pcrread as the oracle) and the state directory untouched. Real files, a real writer process (sh),
 * a real swtpm and the test UKI (systemd-stub + Debian kernel).
 */
class PayloadLeaseTest {

    /** TPM_CC_PCR_Extend, TPM 2.0 Part 2 table 12. */
    static final int TPM_CC_PCR_EXTEND = 0x182;
    static final String ALL = "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";

    @RegisterExtension
    static SwtpmExtension SWTPM = SwtpmExtension.withBanks("sha256");

    @TempDir
    static Path dir;
    static Path uki;
    static String fw;

    @BeforeAll
    static void build() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        fw = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin").toString();
    }

    /** A process that opens {@code f} for writing, says "opened", and keeps it open. */
    private static Process writer(Path f) throws Exception {
        return new ProcessBuilder("sh", "-c", "exec 3>>\"$0\"; echo opened; exec sleep 60", f.toString())
                .redirectErrorStream(true).start();
    }

    private static String firstLine(Process p) throws Exception {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII)).readLine();
    }

    private static void stop(Process p) throws InterruptedException {
        if (p == null) return;
        p.destroy();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    private static JsonNode boot(Path payload, String state) throws Exception {
        ChainFixtures.Cli c = ChainFixtures.cli(0, "boot", payload.toString(), "--tpm", SWTPM.swtpm().tcti(), "--firmware-log", fw,
                "--state-dir", dir.resolve(state).toString(), "--no-load", "--json", "--tolerate-divergent", ALL);
        return Json.MAPPER.readTree(c.out());
    }

    @Test
    void theStatsSayWhetherThePayloadWasMappedOrCopied() throws Exception {
        Path payload = dir.resolve("held.efi");
        Files.copy(uki, payload);
        JsonNode mapped = boot(payload, "state-mapped");
        assertEquals("mapped", mapped.path("stats").path("payloadSource").asText(), mapped.toString());

        Process w = writer(payload);
        try {
            assertEquals("opened", firstLine(w));
            JsonNode copied = boot(payload, "state-copied");
            String source = copied.path("stats").path("payloadSource").asText();
            assertTrue(source.startsWith("copy: ") && source.contains("open for writing"), source);
            // the same payload, the same measurements either way; its digest in both manifests is pesign's
            assertEquals(mapped.path("extended").size(), copied.path("extended").size());
            String pesign = org.kexecmeasured.payload.RealParts.pesignHash(payload);
            for (String state : new String[]{"state-mapped", "state-copied"}) {
                JsonNode manifest = Json.MAPPER.readTree(dir.resolve(state).resolve("initrd-extra/.extra/kexec-measured/manifest.json").toFile());
                assertEquals(pesign, manifest.path("payload").path("authenticodeSha256").asText(), state);
            }
        } finally {
            stop(w);
        }
    }

    @Test
    void hostileOffsetsInAMappedPayloadExitTwoInOneLine() throws Exception {
        byte[] b = Files.readAllBytes(uki);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(0x3c, 0x7fff_fff0); // e_lfanew past the end
        Path hostile = dir.resolve("hostile.efi");
        Files.write(hostile, b);
        ChainFixtures.Cli c = ChainFixtures.cli(2, "boot", hostile.toString(), "--tpm", SWTPM.swtpm().tcti(), "--firmware-log", fw,
                "--state-dir", dir.resolve("state-hostile").toString(), "--no-load");
        assertEquals(1, c.err().strip().lines().count(), c.err());
        assertFalse(c.err().contains("Exception"), c.err());
    }

    @Test
    void anOpenForWritingAfterThePlanIsRefusedBeforeAnyTpmWrite() throws Exception {
        Path payload = dir.resolve("changing.efi");
        Files.copy(uki, payload);
        Path state = dir.resolve("state-refused");
        Map<Integer, String> before = Tpm2Tools.pcrread(SWTPM.swtpm().tcti(), "sha256:all").get("sha256");
        Process[] w = new Process[1];
        try (PayloadFile pf = PayloadFile.open(payload)) {
            assertEquals(PayloadFile.Source.MAPPED, pf.source());
            MeasuredBoot.Request req = new MeasuredBoot.Request(pf, "changing.efi", null, Path.of(fw), state, null,
                    BootPolicy.BUILTIN_DEFAULT, "test", 120_000, Duration.ZERO, null, null, OsLogs.NONE);
            try (Tpm tpm = SWTPM.swtpm().open()) {
                BadInputException e = assertThrows(BadInputException.class, () -> MeasuredBoot.run(req, tpm, plan -> {
                    // after the plan's reads, someone opens the payload for writing: the lease breaks
                    try {
                        w[0] = writer(payload);
                        for (int i = 0; i < 200; i++) {
                            try {
                                pf.checkUnchanged("(probe)");
                                Thread.sleep(50);
                            } catch (BadInputException broken) {
                                break;
                            }
                        }
                    } catch (Exception x) {
                        throw new AssertionError(x);
                    }
                    return Decision.allow("test");
                }, Loader.NONE));
                assertTrue(e.getMessage().contains("changing.efi") && e.getMessage().contains("opened for writing")
                        && e.getMessage().contains("nothing was extended"), e.getMessage());
                assertEquals(0L, tpm.commandCounts().getOrDefault(TPM_CC_PCR_EXTEND, 0L), "no PCR extended");
            }
            assertFalse(Files.exists(state.resolve("journal.jsonl")), "no journal: nothing was started");
            assertFalse(Files.exists(state.resolve("eventlog.bin")), "no continued log written");
            assertEquals(before, Tpm2Tools.pcrread(SWTPM.swtpm().tcti(), "sha256:all").get("sha256"), "the TPM as it was");
            assertFalse(w[0].getInputStream().available() > 0, "the writer waited in open() during the run");
        } finally {
            // the lease is released: the writer goes on
            if (w[0] != null) assertEquals("opened", firstLine(w[0]));
            stop(w[0]);
        }
    }
}
