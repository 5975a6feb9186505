package org.kexecmeasured.cli;

import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.systemd.SystemdVersions;
import org.kexecmeasured.systemd.UkiVariants;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The third column of issue 13's table: {@code boot --no-load} of every Debian systemd-stub (252 → newest) ×
 * UKI variant (built with that version's own ukify) on a swtpm brought to a real firmware state. The written log
 * replays to the TPM (tpm2_pcrread = our replay = tpm2_eventlog's replay; {@code eventlog verify --tpm}), and
 * PCR 4 holds the image events real firmware would log: the UKI, each addon the stub loads through LoadImage,
 * and the kernel when the stub loads it through LoadImage (before 258); digests are pesign's.
 */
class StubVersionsBootTest {

    @TempDir
    static Path tmp;

    @TestFactory
    List<DynamicNode> bootLogReplaysToSwtpm() {
        List<DynamicNode> rows = new ArrayList<>();
        for (SystemdVersions.Version v : SystemdVersions.all()) {
            List<DynamicNode> cells = new ArrayList<>();
            for (UkiVariants.Variant variant : UkiVariants.Variant.values()) {
                String why = variant.unsupported(v);
                if (why != null) {
                    cells.add(DynamicTest.dynamicTest(variant + ": n/a (" + why + ")", () -> assertNotNull(variant.unsupported(v))));
                    continue;
                }
                cells.add(DynamicTest.dynamicTest(variant + ": boot --no-load log replays to swtpm", () -> {
                    Path dir = tmp.resolve(v.suite() + "-" + variant.name().toLowerCase());
                    bootReplays(v, UkiVariants.build(v, variant), dir);
                }));
            }
            rows.add(DynamicContainer.dynamicContainer("systemd " + v, cells));
        }
        return rows;
    }

    static void bootReplays(SystemdVersions.Version v, UkiVariants.Built b, Path dir) throws Exception {
        Files.createDirectories(dir);
        Path fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        EventLog fw = EventLog.parse(Fixtures.read(fwFile));
        List<String> banks = List.of("sha1", "sha256", "sha384");
        try (Swtpm swtpm = ChainFixtures.firmwareState(banks, fw)) {
            Path state = dir.resolve("state");
            ChainFixtures.Cli booted = ChainFixtures.cli(0, "boot", b.uki().toString(), "--esp", b.esp().toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", fwFile.toString(), "--state-dir", state.toString(), "--no-load", "--json",
                    "--time-budget", "30s");
            Path logFile = state.resolve("eventlog.bin");
            EventLog log = EventLog.parse(Files.readAllBytes(logFile));
            int fwCount = fw.events().size();
            MeasuredBootTest.assertTpmEqualsReplays(swtpm, logFile, log, banks);
            MeasuredBootTest.assertBoundaryFirst(log, fwCount);
            ChainFixtures.cli(0, "eventlog", "verify", logFile.toString(), "--tpm", swtpm.tcti(),
                    "--journal", new com.fasterxml.jackson.databind.ObjectMapper().readTree(booted.out())
                            .path("outputs").path("journal").asText());

            // PCR 4 after the boundary: the boot option's action, the UKI, its addons, the kernel if LoadImage'd
            List<Event> pcr4 = MeasuredBootTest.added(log, fwCount, 4);
            List<Path> images = new ArrayList<>(List.of(b.uki()));
            if (b.addon() != null) images.add(b.addon());
            if (v.major() < 258) images.add(b.profiles().get(0).get(".linux"));
            assertEquals(2 + images.size(), pcr4.size(), "PCR 4 of systemd " + v + ": " + pcr4);
            assertEquals("Calling EFI Application from Boot Option", new String(pcr4.get(1).data(), StandardCharsets.US_ASCII));
            for (int i = 0; i < images.size(); i++) {
                Event e = pcr4.get(2 + i);
                assertEquals(ChainFixtures.pesignHash(images.get(i), "sha256"), Hex.of(e.digest(HashAlg.SHA256)),
                        "PCR 4 event " + (2 + i) + " is " + images.get(i));
            }
        }
    }
}
