package org.kexecmeasured.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.payload.RealParts;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Payload trust covers every image the chain starts, not only the payload (the adversarial review's finding 4):
 * Debian's systemd-boot, signed here by sbsign with a test key the policy trusts, starts a UKI (Debian's
 * systemd-stub + kernel, tests/bin/make-uki) from the ESP through LoadImage. sbverify is the oracle for which
 * image carries a signature that chains to the test key, pesign for the Authenticode digest a policy denies.
 * A refused boot (exit 3) names the UKI by its ESP path, sends only TPM reads and makes no kexec system call;
 * predict says the same.
 */
class ChainTrustTest {

    @TempDir
    static Path dir;
    static Path uki;
    static Path db;
    static Path dbKey;
    static Path other;
    static Path otherKey;
    static Path fwFile;

    @BeforeAll
    static void parts() throws Exception {
        uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        ChainFixtures.require(ChainFixtures.SD_BOOT, "systemd-boot-efi");
        db = dir.resolve("db.pem");
        dbKey = dir.resolve("db.key");
        other = dir.resolve("other.pem");
        otherKey = dir.resolve("other.key");
        for (Path[] kc : new Path[][]{{dbKey, db}, {otherKey, other}}) {
            RealParts.run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", kc[0].toString(),
                    "-out", kc[1].toString(), "-days", "30", "-subj", "/CN=kexec-measured test " + kc[1].getFileName()), "openssl");
        }
        fwFile = Fixtures.eventlogs().resolve("ovmf-sdboot-fedora37.bin");
    }

    static Path sign(Path in, Path key, Path cert, Path out) {
        RealParts.run(List.of("sbsign", "--key", key.toString(), "--cert", cert.toString(), "--output", out.toString(), in.toString()),
                "sbsigntool");
        return out;
    }

    static boolean sbverify(Path file, Path cert) {
        return RealParts.runAny(List.of("sbverify", "--cert", cert.toString(), file.toString()), "sbsigntool").exit() == 0;
    }

    /** An ESP: systemd-boot as \EFI\BOOT\BOOTX64.EFI, {@code ukiFile} as \EFI\Linux\debian-uki.efi, the default entry. */
    static Path esp(String name, Path sdBoot, Path ukiFile) throws Exception {
        Path esp = dir.resolve(name);
        Files.createDirectories(esp.resolve("EFI/BOOT"));
        Files.createDirectories(esp.resolve("EFI/Linux"));
        Files.createDirectories(esp.resolve("loader"));
        Files.copy(sdBoot, esp.resolve("EFI/BOOT/BOOTX64.EFI"));
        Files.copy(ukiFile, esp.resolve("EFI/Linux/debian-uki.efi"));
        Files.writeString(esp.resolve("loader/loader.conf"), "timeout 0\ndefault debian-uki.efi\n");
        return esp;
    }

    static Path policy(String name, String payload) throws Exception {
        Path p = dir.resolve(name + ".yaml");
        Files.writeString(p, "version: 1\npayload:\n" + payload);
        return p;
    }

    static String pcrs(Swtpm swtpm) {
        return Tpm2Tools.pcrread(swtpm.tcti(), "sha256:all").toString();
    }

    /** predict and boot (with the hand-over on a recording seam) under {@code policy}: both must give {@code rc}. */
    static List<ChainFixtures.Cli> predictAndBoot(Swtpm swtpm, Path esp, Path policy, int rc, String what) {
        String payload = esp.resolve("EFI/BOOT/BOOTX64.EFI").toString();
        ChainFixtures.Cli p = ChainFixtures.cli("predict", "--policy", policy.toString(), payload, "--esp", esp.toString(),
                "--tpm", swtpm.tcti(), "--firmware-log", fwFile.toString());
        assertEquals(rc, p.rc(), what + ": predict\n" + p.out() + p.err());
        String before = pcrs(swtpm);
        List<Tpm> opened = new ArrayList<>();
        RecordingKexec k = new RecordingKexec();
        ChainFixtures.Cli b = PolicyAcceptanceTest.counted(opened, k, "boot", payload, "--esp", esp.toString(), "--policy",
                policy.toString(), "--tpm", swtpm.tcti(), "--firmware-log", fwFile.toString(), "--state-dir",
                dir.resolve("state-" + what.replace(' ', '-')).toString());
        assertEquals(rc, b.rc(), what + ": boot\n" + b.out() + b.err());
        if (rc == Main.EXIT_POLICY_DENIED) {
            assertTrue(p.out().contains("decision: deny"), p.out());
            assertTrue(b.err().contains("refused by policy"), b.err());
            assertEquals(before, pcrs(swtpm), what + ": no PCR changed");
            SortedMap<Integer, Long> sent = PolicyAcceptanceTest.commands(opened);
            assertEquals(0L, sent.getOrDefault(CommandCode.PCR_EXTEND, 0L), what + ": " + sent);
            assertTrue(PolicyAcceptanceTest.READS.containsAll(sent.keySet()), what + ": only reads: " + sent);
            assertEquals(List.of(), k.calls, what + ": no kexec system call");
        } else {
            assertTrue(k.loaded, what + ": the kernel was loaded");
        }
        return List.of(p, b);
    }

    @Test
    void everyImageTheChainStartsIsChecked() throws Exception {
        Path sdBoot = sign(ChainFixtures.SD_BOOT, dbKey, db, dir.resolve("sd-boot.signed.efi"));
        Path ukiSigned = sign(uki, dbKey, db, dir.resolve("uki.signed.efi"));
        Path ukiOther = sign(uki, otherKey, other, dir.resolve("uki.other.efi"));
        // the oracle: which images chain to the trusted key
        assertTrue(sbverify(sdBoot, db), "sbverify: systemd-boot signed by the test key");
        assertTrue(sbverify(ukiSigned, db), "sbverify: the UKI signed by the test key");
        assertFalse(sbverify(uki, db), "sbverify: the UKI is unsigned");
        assertFalse(sbverify(ukiOther, db), "sbverify: the UKI signed by another key does not chain to the test key");

        Path strict = policy("strict", "  require-signature: true\n  trusted-certificates: [db.pem]\n");
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {

            // signed systemd-boot + unsigned UKI: refused, the UKI named by its ESP path and what failed
            Path unsigned = esp("esp-unsigned", sdBoot, uki);
            for (ChainFixtures.Cli c : predictAndBoot(swtpm, unsigned, strict, Main.EXIT_POLICY_DENIED, "unsigned uki")) {
                String text = c.out() + c.err();
                assertTrue(text.contains("\\EFI\\Linux\\debian-uki.efi (loaded by LoadImage): the policy requires a signature and it has none"), text);
                assertFalse(text.contains("BOOTX64.EFI: the policy requires"), "systemd-boot is signed: " + text);
            }

            // a UKI signed by a key the policy does not trust: refused, naming it
            Path otherEsp = esp("esp-other", sdBoot, ukiOther);
            for (ChainFixtures.Cli c : predictAndBoot(swtpm, otherEsp, strict, Main.EXIT_POLICY_DENIED, "untrusted uki")) {
                String text = c.out() + c.err();
                assertTrue(text.contains("\\EFI\\Linux\\debian-uki.efi (loaded by LoadImage): no signer verifies and chains"), text);
            }

            Path signed = esp("esp-signed", sdBoot, ukiSigned);
            // both signed, the inner image's digest denied (pesign's Authenticode SHA-256): refused, naming the UKI
            Path denied = policy("denied", "  require-signature: true\n  trusted-certificates: [db.pem]\n  denied-digests: ["
                    + ChainFixtures.pesignHash(ukiSigned, "sha256") + "]\n");
            for (ChainFixtures.Cli c : predictAndBoot(swtpm, signed, denied, Main.EXIT_POLICY_DENIED, "denied uki")) {
                String text = c.out() + c.err();
                assertTrue(text.contains("\\EFI\\Linux\\debian-uki.efi (loaded by LoadImage) is denied by the policy"), text);
            }

            // a Type #1 entry: signed systemd-boot starts the kernel file itself (Debian's, not signed by the test
            // key: sbverify says so); the kernel handed over is checked too, named by its ESP path
            Path vmlinuz = uki.resolveSibling("vmlinuz");
            assertFalse(sbverify(vmlinuz, db), "sbverify: the kernel does not chain to the test key");
            Path type1 = dir.resolve("esp-type1");
            Files.createDirectories(type1.resolve("EFI/BOOT"));
            Files.createDirectories(type1.resolve("loader/entries"));
            Files.copy(sdBoot, type1.resolve("EFI/BOOT/BOOTX64.EFI"));
            Files.copy(vmlinuz, type1.resolve("vmlinuz"));
            Files.copy(uki.resolveSibling("initrd.cpio"), type1.resolve("initrd.cpio"));
            Files.writeString(type1.resolve("loader/loader.conf"), "timeout 0\ndefault debian.conf\n");
            Files.writeString(type1.resolve("loader/entries/debian.conf"), "title Debian\nlinux /vmlinuz\ninitrd /initrd.cpio\n"
                    + "options console=ttyS0\n");
            for (ChainFixtures.Cli c : predictAndBoot(swtpm, type1, strict, Main.EXIT_POLICY_DENIED, "type1 kernel")) {
                String text = c.out() + c.err();
                assertTrue(text.contains("\\vmlinuz (loaded by LoadImage): no signer verifies and chains"), text);
            }

            // both signed: allowed — the kernel inside the UKI is covered by the UKI's signature (last: the boot changes the TPM)
            ChainFixtures.Cli ok = predictAndBoot(swtpm, signed, strict, 0, "both signed").get(0);
            assertTrue(ok.out().contains("decision: allow"), ok.out());
        }
    }

    /**
     * {@code measurement.shim-may-extend}: the PCRs the chain's own code may measure into. Debian's systemd-stub
     * measures the UKI's sections into PCR 11 (EV_IPL; systemd-stub(7), "TPM PCR Measurements"); a policy that
     * leaves 11 out is refused naming PCR 11 — or, with {@code decision.chain-extends: warn}, allowed with the
     * warning; a set that holds every PCR the chain uses (systemd-boot: 12; systemd-stub: 11, 12) has no finding.
     */
    @Test
    void shimMayExtendRestrictsWhereTheChainMeasures() throws Exception {
        Path esp = esp("esp-pcrs", ChainFixtures.SD_BOOT, uki);
        String payload = esp.resolve("EFI/BOOT/BOOTX64.EFI").toString();
        try (Swtpm swtpm = ChainFixtures.firmwareState(List.of("sha256"), fwFile)) {
            Path without11 = dir.resolve("without11.yaml");
            Files.writeString(without11, "version: 1\nmeasurement: {shim-may-extend: [4, 5, 12, 13]}\n");
            for (ChainFixtures.Cli c : predictAndBoot(swtpm, esp, without11, Main.EXIT_POLICY_DENIED, "pcr 11 not allowed")) {
                String text = c.out() + c.err();
                assertTrue(text.matches("(?s).*the chain measures \\d+ event\\(s\\) into PCR 11 \\([^)]*EV_IPL[^)]*\\), which "
                        + "measurement.shim-may-extend \\[4, 5, 12, 13\\] does not allow.*"), text);
            }
            // every PCR the chain measures into: no finding (predict: the same decider the boot runs)
            Path all = dir.resolve("all.yaml");
            Files.writeString(all, "version: 1\nmeasurement: {shim-may-extend: [4, 5, 11, 12, 13]}\n");
            ChainFixtures.Cli ok = ChainFixtures.cli(0, "predict", "--policy", all.toString(), payload, "--esp", esp.toString(),
                    "--tpm", swtpm.tcti(), "--firmware-log", fwFile.toString());
            assertTrue(ok.out().contains("decision: allow"), ok.out());
            assertFalse(ok.out().contains("the chain measures"), ok.out());
            // warn instead of deny: allowed, the warning said; last, because the boot changes the TPM
            Path warn = dir.resolve("warn.yaml");
            Files.writeString(warn, "version: 1\nmeasurement: {shim-may-extend: [4, 5, 12, 13]}\ndecision: {chain-extends: warn}\n");
            ChainFixtures.Cli w = predictAndBoot(swtpm, esp, warn, 0, "pcr 11 warned").get(0);
            assertTrue(w.out().contains("warn: measurement: the chain measures") && w.out().contains("into PCR 11"), w.out());
        }
    }
}
