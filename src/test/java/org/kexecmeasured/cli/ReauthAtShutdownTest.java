package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.LoadOnly;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.kexec.FileModeLoader;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.policy.PolicyAtCommit;
import org.kexecmeasured.policy.PolicyDecider;
import org.kexecmeasured.policy.file.PolicyFile;
import org.kexecmeasured.policy.file.PolicyParser;
import org.kexecmeasured.policy.reauth.Reauthorizer;
import org.kexecmeasured.policy.testing.SecretClients;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;
import org.kexecmeasured.util.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code boot --at-shutdown} under a policy that re-authorizes, then {@code commit-pending} after systemd's
 * {@code shutdown} and {@code final} phases (tpm2_pcrextend of the words, as systemd-pcrphase 252 does): the commit
 * decides again under the same policy on the PCRs it reads, signs over what the next system's TPM will hold, and
 * loads the kernel again with that signature in the initrd's {@code /.extra/}. The oracle is systemd's own LUKS2
 * token plugin ({@code cryptsetup open --token-only}) on a volume enrolled by {@code systemd-cryptenroll
 * --tpm2-public-key … --tpm2-public-key-pcrs=11}: it opens with the commit's signature at the phase it signed,
 * not before (kernel start) and never without it; a signature made at preparation (what a load-time
 * re-authorization would have carried) does not open it. A policy file changed between preparation and commit
 * refuses the commit (exit 2), nothing extended.
 */
class ReauthAtShutdownTest {

    static final Path FW = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
    static final List<HashAlg> BANKS = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);

    static void pcrphase(Swtpm swtpm, String word) {
        StringBuilder sel = new StringBuilder("11:");
        for (HashAlg b : BANKS) {
            sel.append(b == HashAlg.SHA1 ? "" : ",").append(b.tpmName).append('=')
                    .append(Hex.of(b.digest(word.getBytes(StandardCharsets.US_ASCII))));
        }
        Tpm2Tools.run(swtpm.tcti(), "tpm2_pcrextend", sel.toString());
    }

    @Test
    void theCommitReauthorizesAfterSystemdsLastPhases(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki"));
        byte[] payload = Files.readAllBytes(uki.resolve("demo.efi"));
        Path pending = dir.resolve("pending");
        Path state = dir.resolve("state");
        RecordingKexec k = new RecordingKexec();
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, FW)) {
            // the running host: systemd-pcrphase's boot phases in PCR 11, no log entry (systemd 252)
            for (String w : List.of("enter-initrd", "leave-initrd", "sysinit", "ready")) pcrphase(swtpm, w);
            SecretClients c = new SecretClients(swtpm, dir);
            SecretClients.SigningKey signing = c.pcrSigningKey();
            Path img = c.luksImage("d");
            c.cryptenroll(img, "--tpm2-public-key=" + signing.pub(), "--tpm2-public-key-pcrs=11");
            Path policyFile = dir.resolve("policy.yaml");
            String policyText = "version: 1\nmeasurement: {tolerate-divergent: [11]}\n"
                    + "secrets:\n  - {name: d, must-remain: reachable, source: {luks2: d.img}}\n"
                    + "reauthorize: {signing-key: pcr-signing.pem, secrets: [d]}\n";
            Files.writeString(policyFile, policyText);

            // ---- preparation, as boot --at-shutdown --policy runs it (BootCommand): the policy saved for the commit,
            // then plan, decide, load with the "pending" sidecar, save the pending boot
            PolicyFile pf = PolicyParser.read(policyFile);
            PolicyAtCommit.prepare(pending, pf, payload);
            MeasuredBoot.Request req = new MeasuredBoot.Request(payload, "demo.efi", null, FW, state, null,
                    PolicyDecider.bootPolicy(pf), "test", 120_000, OsLogs.NONE);
            Map<String, Map<Integer, String>> before = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);
            PolicyDecider atPreparation;
            try (Tpm tpm = swtpm.open()) {
                atPreparation = PolicyDecider.prepare(pf, payload, tpm);
                LoadOnly.prepareForShutdown(req, tpm, atPreparation, new FileModeLoader(k.loader(), KexecFileLoader.Target.REBOOT),
                        pending, "/usr/bin/kexec-measured", pf.measurement().tolerateDivergent(), swtpm.tcti(), true);
            }
            assertEquals(before, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "preparing extends nothing");
            assertTrue(k.loaded && Files.isRegularFile(pending.resolve(PendingBoot.FILE)));
            Path prepInitrd = dir.resolve("prep-initrd");
            HandOverTest.sidecar(k.initrd, (int) Files.size(uki.resolve("initrd.cpio")), prepInitrd);
            assertFalse(Files.exists(prepInitrd.resolve(".extra/tpm2-pcr-signature.json")),
                    "the preparation's load carries no signature: the commit makes it");
            // what a re-authorization at load time signs (the preparation's preview): kept to show it would not open
            Path prepSig = dir.resolve("prep-signature.json");
            Files.write(prepSig, atPreparation.evaluation().reauthorization().json());

            // ---- systemd on the way down: "shutdown", then "final" into PCR 11
            for (String w : List.of("shutdown", "final")) pcrphase(swtpm, w);

            // a policy file changed since the preparation: the commit refuses (exit 2), nothing extended
            Files.writeString(policyFile, policyText + "# edited\n");
            Map<String, Map<Integer, String>> beforeCommit = Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL);
            ChainFixtures.Cli changed = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "commit-pending", pending.toString(),
                    "--tpm", swtpm.tcti());
            assertEquals(Main.EXIT_BAD_INPUT, changed.rc(), changed.out() + changed.err());
            assertTrue(changed.err().contains("changed since the boot was prepared"), changed.err());
            assertEquals(beforeCommit, Tpm2Tools.pcrread(swtpm.tcti(), HandOverTest.ALL), "a refused commit extends nothing");
            Files.writeString(policyFile, policyText);

            // ---- the commit: decided again, signed over the PCRs after "final", loaded again with the signature
            ChainFixtures.Cli commit = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "commit-pending", pending.toString(),
                    "--tpm", swtpm.tcti(), "--json");
            assertEquals(0, commit.rc(), commit.out() + commit.err());
            assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load",
                    "memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load"), k.calls, "loaded again with the final sidecar");
            Path uncpio = dir.resolve("commit-initrd");
            Path side = HandOverTest.sidecar(k.initrd, (int) Files.size(uki.resolve("initrd.cpio")), uncpio);
            Path sig = uncpio.resolve(".extra/tpm2-pcr-signature.json");
            assertTrue(Files.isRegularFile(sig), "the commit's signature in the loaded initrd's /.extra/");
            assertEquals(Files.readString(sig), Files.readString(side.resolve(Reauthorizer.FILE_NAME)), "and beside the manifest");
            JsonNode manifest = Json.MAPPER.readTree(side.resolve("manifest.json").toFile());
            JsonNode pd = manifest.path("policyDecision");
            assertEquals(pf.id(), pd.path("policy").asText());
            JsonNode verdict = manifest.path("verdicts").get(0);
            assertEquals("reachable", verdict.path("verdict").asText(), manifest.toString());
            JsonNode route = pd.path("secrets").get(0).path("routes").get(0);
            boolean predictedAtKernelStart = route.path("reachableAt").toString().contains("when the next kernel starts");
            String signedEnterInitrd = null;
            for (JsonNode s : pd.path("reauthorization").path("signed")) {
                if (s.path("phase").asText().equals("enter-initrd") && s.path("bank").asText().equals("sha256")) {
                    signedEnterInitrd = s.path("pcrValues").path("11").asText();
                }
            }

            // ---- the next system: systemd's token plugin opens the volume exactly when predicted
            assertEquals(predictedAtKernelStart, c.tokenPluginOpens(img, sig), "at the kernel's start: " + route + c.lastOutput());
            pcrphase(swtpm, "enter-initrd");
            assertTrue(route.path("reachableAt").toString().contains("at phase enter-initrd"), route.toString());
            assertEquals(Tpm2Tools.pcrread(swtpm.tcti(), "sha256:11").get("sha256").get(11), signedEnterInitrd,
                    "what the commit signed for enter-initrd is what the TPM holds then");
            assertTrue(c.tokenPluginOpens(img, sig), "opens with the commit's signature: " + c.lastOutput());
            assertFalse(c.tokenPluginOpens(img, null), "not without it");
            assertFalse(c.tokenPluginOpens(img, prepSig), "not with a signature made at preparation (before shutdown, final)");
        }
    }
}
