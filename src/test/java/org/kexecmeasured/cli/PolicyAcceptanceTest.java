package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.boot.Decider;
import org.kexecmeasured.boot.LoadOnly;
import org.kexecmeasured.boot.MeasuredBoot;
import org.kexecmeasured.boot.OsLogs;
import org.kexecmeasured.boot.PendingBoot;
import org.kexecmeasured.boot.RefusedException;
import org.kexecmeasured.eventlog.Event;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.eventlog.Fixtures;
import org.kexecmeasured.kexec.FileModeLoader;
import org.kexecmeasured.kexec.KexecFileLoader;
import org.kexecmeasured.kexec.testing.RecordingKexec;
import org.kexecmeasured.policy.testing.SecretClients;
import org.kexecmeasured.tpm.CommandCode;
import org.kexecmeasured.tpm.Tpm;
import org.kexecmeasured.tpm.TpmOpener;
import org.kexecmeasured.tpm.TssTpm;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 11's acceptance, end to end with real parts: a swtpm brought to the state of a real firmware
 * log (GCE) and a running systemd host (PCR 11 extended by systemd-pcrphase, unlogged); secrets
 * sealed by their own tools — (a) tpm2-tools to PCR 7, (b) tpm2-tools to PCR 7+11, (c) a LUKS2
 * image with systemd-cryptenroll --tpm2-pcrs=7+11, (d) one with --tpm2-public-key (signed PCR 11),
 * (e) a clevis luks bind tpm2 pin on PCR 7, (f) a clevis encrypt tpm2 JWE on sha1 PCR 7+11.
 * {@code predict} gives the verdicts (reading the TPM, never writing); the real {@code boot
 * --policy} runs (re-authorization on); each secret is then opened by its own client — tpm2_unseal,
 * systemd's LUKS2 token plugin, clevis — and every outcome equals the prediction, in both
 * directions. (d) opens with the re-authorization's signature once the next system enters its
 * initrd, and only with it. The boot loads its kernel through the recording kexec seam; the initrd it
 * loaded carries the signature in {@code /.extra/} and {@code /.extra/kexec-measured/} (GNU cpio reads
 * it), and {@code report} renders the manifest's verdicts. Policies that deny make {@code boot} refuse
 * (exit 3) before any TPM write and without a kexec system call, also with --crash and --at-shutdown.
 */
class PolicyAcceptanceTest {

    /** What predict and a refused boot may send: reads only. */
    static final Set<Integer> READS = Set.of(CommandCode.GET_CAPABILITY, CommandCode.PCR_READ, CommandCode.GET_RANDOM,
            0x173 /* ReadPublic */, 0x169 /* NV_ReadPublic */, 0x14E /* NV_Read */);

    static Map<HashAlg, byte[]> digests(List<HashAlg> banks, String text) {
        Map<HashAlg, byte[]> m = new EnumMap<>(HashAlg.class);
        for (HashAlg a : banks) m.put(a, a.digest(text.getBytes(StandardCharsets.UTF_8)));
        return m;
    }

    /** Runs the CLI with a TPM opener that keeps every opened TPM, to count its commands afterwards. */
    static ChainFixtures.Cli counted(List<Tpm> opened, String... args) {
        return counted(opened, null, args);
    }

    /** … and with the kexec system calls on a recording seam ({@code kexec} null: the real ones, never reached here). */
    static ChainFixtures.Cli counted(List<Tpm> opened, RecordingKexec kexec, String... args) {
        TpmOpener real = TpmOpener.DEFAULT;
        Services s = Services.DEFAULT.withTpm(t -> {
            Tpm tpm = real.open(t);
            opened.add(tpm);
            return tpm;
        });
        return ChainFixtures.cli(kexec == null ? s : s.withKexec(kexec::loader), args);
    }

    static SortedMap<Integer, Long> commands(List<Tpm> opened) {
        SortedMap<Integer, Long> all = new TreeMap<>();
        for (Tpm t : opened) t.commandCounts().forEach((k, v) -> all.merge(k, v, Long::sum));
        return all;
    }

    static String allPcrs(Swtpm swtpm) {
        return Tpm2Tools.pcrread(swtpm.tcti(), "sha1:all+sha256:all+sha384:all").toString();
    }

    @Test
    void predictionsEqualWhatTheClientsOpenAfterTheRealBoot(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        Path fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
            // the running host: systemd-pcrphase extended PCR 11 without a firmware-log entry
            try (TssTpm tpm = swtpm.open()) {
                for (String w : List.of("enter-initrd", "leave-initrd", "sysinit", "ready")) tpm.extend(11, digests(banks, w));
            }
            SecretClients c = new SecretClients(swtpm, dir);
            byte[] secretA = "secret a".getBytes(StandardCharsets.UTF_8);
            SecretClients.SixSecrets six = c.sealSix(secretA, "secret b".getBytes(StandardCharsets.UTF_8),
                    "secret f".getBytes(StandardCharsets.UTF_8));
            Path[] a = six.a(), b = six.b();
            Path imgC = six.imgC(), imgD = six.imgD(), imgE = six.imgE(), jweF = six.jweF();

            String secrets = String.join("\n",
                    "secrets:",
                    "  - {name: a, must-remain: reachable, source: {tpm2-object: {public: a.pub, private: a.priv, pcrs: 'sha256:7'}}}",
                    "  - {name: b, must-remain: unreachable, source: {tpm2-object: {public: b.pub, private: b.priv, pcrs: 'sha256:7,11'}}}",
                    "  - {name: c, must-remain: any, source: {luks2: c.img}}",
                    "  - {name: d, must-remain: reachable, source: {luks2: d.img}}",
                    "  - {name: e, must-remain: any, source: {luks2: e.img}}",
                    "  - {name: f, must-remain: any, source: {clevis-jwe: f.jwe}}",
                    "");
            Path policy = dir.resolve("policy.yaml");
            Files.writeString(policy, "version: 1\nmeasurement: {tolerate-divergent: [11]}\n" + secrets
                    + "reauthorize: {signing-key: pcr-signing.pem, secrets: [d]}\n");

            // ---- predict: verdicts, reading the TPM only
            String before = allPcrs(swtpm);
            List<Tpm> opened = new ArrayList<>();
            ChainFixtures.Cli p = counted(opened, "predict", "--policy", policy.toString(), uki.toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", fwFile.toString(), "--json");
            assertEquals(0, p.rc(), p.out() + p.err());
            assertEquals(before, allPcrs(swtpm), "predict changed no PCR");
            SortedMap<Integer, Long> sent = commands(opened);
            assertTrue(READS.containsAll(sent.keySet()), "predict sent only reads: " + sent);
            JsonNode report = Json.MAPPER.readTree(p.out());
            Map<String, JsonNode> predicted = new HashMap<>();
            for (JsonNode s : report.path("decision").path("secrets")) predicted.put(s.path("name").asText(), s);
            assertEquals(6, predicted.size(), p.out());
            // --json step timing: every step of the main thread once, in the order they run (the policy parsed beside
            // the payload's opening and the TPM's, its sources read beside the plan); decide's own steps within decide
            JsonNode steps = report.path("stats").path("stepMicros");
            List<String> names = new ArrayList<>();
            steps.fieldNames().forEachRemaining(names::add);
            assertEquals(List.of("payload", "pcrSource", "policy", "sources", "plan", "sourcesWait", "decide", "decide.prediction", "decide.payloadFacts",
                    "decide.payloadTrust", "decide.findings", "decide.reauthorization", "decide.verdicts", "decide.record", "report"),
                    names, steps.toString());
            long inDecide = 0;
            for (String n : names) {
                assertTrue(steps.path(n).asLong(-1) >= 0, n + ": " + steps);
                if (n.startsWith("decide.")) inDecide += steps.path(n).asLong();
            }
            assertTrue(inDecide <= steps.path("decide").asLong(), "decide's steps add up to at most decide: " + steps);
            assertEquals("reachable", predicted.get("a").path("verdict").asText());
            assertEquals("unreachable", predicted.get("b").path("verdict").asText());
            assertEquals("unreachable", predicted.get("c").path("verdict").asText());
            assertEquals("reachable", predicted.get("d").path("verdict").asText(), predicted.get("d").toString());
            assertTrue(predicted.get("b").path("reason").asText().contains("the kexec boundary changes PCR 11"), predicted.get("b").toString());

            // ---- the real boot under the same policy, with the hand-over: the kernel is loaded through the
            // recording kexec seam (this machine must never load one), its initrd carries the sidecar
            Path state = dir.resolve("state");
            RecordingKexec k = new RecordingKexec();
            ChainFixtures.Cli boot = ChainFixtures.cli(Services.DEFAULT.withKexec(k::loader), "boot", uki.toString(), "--policy",
                    policy.toString(), "--tpm", swtpm.tcti(), "--firmware-log", fwFile.toString(), "--state-dir", state.toString(), "--json");
            assertEquals(0, boot.rc(), boot.out() + boot.err());
            assertEquals(List.of("memfd kexec-measured-kernel", "memfd kexec-measured-initrd", "load"), k.calls);
            JsonNode bj = Json.MAPPER.readTree(boot.out());
            assertTrue(bj.path("decision").path("allowed").asBoolean(), boot.out());
            // the boundary event names the policy by the SHA-256 of its bytes (sha256sum as oracle)
            String policySha = c.ok("sha256sum", policy.toString()).substring(0, 64);
            EventLog log = EventLog.parse(Files.readAllBytes(state.resolve("eventlog.bin")));
            boolean found = false;
            for (Event e : log.events()) {
                if (e.eventType() != 6 || e.data().length < 8) continue;
                if (ByteBuffer.wrap(e.data()).order(ByteOrder.LITTLE_ENDIAN).getInt(0) != 0x4B584D42) continue;
                String text = new String(e.data(), 8, e.data().length - 8, StandardCharsets.UTF_8);
                assertTrue(text.contains("\npolicy=" + policySha + "\n"), text);
                found = true;
            }
            assertTrue(found, "boundary records in the log");
            // the initrd the kernel was loaded with, its sidecar extracted by GNU cpio: the re-authorization's
            // signature where systemd-cryptsetup looks (/.extra/) and beside the manifest (/.extra/kexec-measured/)
            Path uncpio = dir.resolve("initrd-x");
            Path sideDir = HandOverTest.sidecar(k.initrd, (int) Files.size(uki.resolveSibling("initrd.cpio")), uncpio);
            Path sig = uncpio.resolve(".extra/tpm2-pcr-signature.json");
            assertTrue(Files.isRegularFile(sig), "signature in the initrd's /.extra/");
            assertArrayEquals(Files.readAllBytes(sig), Files.readAllBytes(sideDir.resolve("tpm2-pcr-signature.json")),
                    "the same signature in /.extra/kexec-measured/");
            assertArrayEquals(Files.readAllBytes(sig), Files.readAllBytes(state.resolve("initrd-extra/.extra/tpm2-pcr-signature.json")),
                    "the state directory's copy of the sidecar is what was loaded");
            // the verdicts and signed values in the manifest the next system finds
            JsonNode manifest = Json.MAPPER.readTree(sideDir.resolve("manifest.json").toFile());
            JsonNode pd = manifest.path("policyDecision");
            assertEquals(policySha, pd.path("policy").asText());
            assertEquals(4, pd.path("reauthorization").path("signed").size(), pd.toString());
            // the flat verdicts list the report reads: one per secret, as predict said
            assertEquals(6, manifest.path("verdicts").size(), manifest.toString());
            for (JsonNode v : manifest.path("verdicts")) {
                JsonNode p0 = predicted.get(v.path("name").asText());
                assertNotNull(p0, v.toString());
                assertEquals(p0.path("verdict").asText(), v.path("verdict").asText(), v.toString());
                assertEquals(p0.path("mustRemain").asText(), v.path("intent").asText(), v.toString());
                assertEquals(p0.path("meetsIntent").asBoolean(), v.path("meetsIntent").asBoolean(), v.toString());
                assertFalse(v.path("reason").asText().isBlank(), v.toString());
            }
            // (the reasons name predicted values, which differ from predict's by the boundary's nonce: same as policyDecision's)
            for (int i = 0; i < 6; i++) {
                assertEquals(pd.path("secrets").get(i).path("reason"), manifest.path("verdicts").get(i).path("reason"));
            }
            // … rendered by report from the boot's state: one row per secret, the verdict and the intent (jsoup reads the page)
            Path html = dir.resolve("report.html");
            ChainFixtures.cli(0, "report", state.toString(), "-o", html.toString());
            org.jsoup.select.Elements rows = org.jsoup.Jsoup.parse(Files.readString(html)).select("#verdicts tr.verdict");
            assertEquals(6, rows.size(), Files.readString(html));
            for (org.jsoup.nodes.Element row : rows) {
                JsonNode p0 = predicted.get(row.child(0).text());
                assertNotNull(p0, row.toString());
                assertEquals(p0.path("verdict").asText(), row.attr("data-verdict"), row.toString());
                assertEquals(p0.path("meetsIntent").asBoolean() ? "yes" : "no", row.attr("data-meets-intent"), row.toString());
                assertTrue(row.child(2).text().startsWith(p0.path("mustRemain").asText()), row.toString());
            }

            // ---- the clients, when the next kernel starts
            Map<String, Boolean> opens = new HashMap<>();
            byte[] outA = c.tpm2Unseal(a, "sha256:7");
            opens.put("a", outA != null);
            if (outA != null) assertArrayEquals(secretA, outA);
            opens.put("b", c.tpm2Unseal(b, "sha256:7,11") != null);
            opens.put("c", c.tokenPluginOpens(imgC, null));
            byte[] passE = c.clevisPass(imgE, 1);
            opens.put("e", passE != null && c.passphraseOpens(imgE, passE));
            opens.put("f", c.clevisDecrypt(Files.readString(jweF)) != null);
            for (String s : List.of("a", "b", "c", "e", "f")) {
                assertEquals(predicted.get(s).path("verdict").asText().equals("reachable"), opens.get(s),
                        "secret " + s + ": predicted " + predicted.get(s) + ", client " + (opens.get(s) ? "opened it" : "could not"));
            }
            assertFalse(opens.get("b") || opens.get("c"), "(b) and (c) are unreachable after the boot");
            // (d): the signature covers the phases, not the kernel's start
            JsonNode d = predicted.get("d").path("routes").get(0);
            boolean kernelStart = c.tokenPluginOpens(imgD, sig);
            assertEquals(d.path("reachableAt").toString().contains("when the next kernel starts"), kernelStart, d.toString());
            try (TssTpm tpm = swtpm.open()) {
                tpm.extend(11, digests(banks, "enter-initrd")); // the next system's systemd-pcrphase
            }
            assertTrue(d.path("reachableAt").toString().contains("at phase enter-initrd"), d.toString());
            // what was signed for that phase is what the TPM holds now (prediction = reality)
            String signed11 = null;
            for (JsonNode s : pd.path("reauthorization").path("signed")) {
                if (s.path("phase").asText().equals("enter-initrd") && s.path("bank").asText().equals("sha256")) {
                    signed11 = s.path("pcrValues").path("11").asText();
                }
            }
            assertEquals(Tpm2Tools.pcrread(swtpm.tcti(), "sha256:11").get("sha256").get(11), signed11);
            assertTrue(c.tokenPluginOpens(imgD, sig), "(d) opens with the new signature in the initrd");
            assertFalse(c.tokenPluginOpens(imgD, null), "(d) does not open without it");
        }
    }

    /**
     * Policies that deny: boot refuses with exit 3 after reading only; nothing reaches the TPM and nothing is
     * loaded — in each mode: the default (load, then commit), {@code --crash} (load only) and {@code
     * --at-shutdown} (load, commit later). The kexec system calls go through the recording seam, which
     * must see none.
     */
    @Test
    void denyingPoliciesRefuseBeforeAnyTpmWrite(@TempDir Path dir) throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki")).resolve("demo.efi");
        Path fwFile = Fixtures.eventlogs().resolve("gce-v2-sevsnp-ebs-failure.bin");
        List<HashAlg> banks = List.of(HashAlg.SHA1, HashAlg.SHA256, HashAlg.SHA384);
        try (Swtpm swtpm = ChainFixtures.firmwareState(ChainFixtures.THREE_BANKS, fwFile)) {
            try (TssTpm tpm = swtpm.open()) {
                tpm.extend(11, digests(banks, "enter-initrd"));
            }
            SecretClients c = new SecretClients(swtpm, dir);
            c.tpm2Seal("b", "sha256:7,11", "secret b".getBytes(StandardCharsets.UTF_8));
            Map<String, String> policies = Map.of(
                    // PCR 11 disagrees with the firmware log and the policy does not tolerate it
                    "divergent", "version: 1\n",
                    // a secret that must stay reachable would not
                    "secret", "version: 1\nmeasurement: {tolerate-divergent: [11]}\nsecrets:\n"
                            + "  - {name: b, must-remain: reachable, source: {tpm2-object: {public: b.pub, private: b.priv, pcrs: 'sha256:7,11'}}}\n",
                    // an image the policy denies
                    "payload", "version: 1\nmeasurement: {tolerate-divergent: [11]}\npayload: {denied-digests: ["
                            + ChainFixtures.pesignHash(uki, "sha256") + "]}\n");
            for (Map.Entry<String, String> e : policies.entrySet()) {
                Path policy = dir.resolve(e.getKey() + ".yaml");
                Files.writeString(policy, e.getValue());
                for (String mode : List.of("load", "--crash", "--at-shutdown")) {
                    String what = e.getKey() + " " + mode;
                    String before = allPcrs(swtpm);
                    List<Tpm> opened = new ArrayList<>();
                    Path state = dir.resolve("state-" + e.getKey() + mode);
                    Path pending = dir.resolve("pending-" + e.getKey());
                    RecordingKexec k = new RecordingKexec();
                    if (mode.equals("--at-shutdown")) {
                        // the CLI checks for the installed system-shutdown hook first; the same Decider, on the
                        // same path the command takes (LoadOnly.prepareForShutdown), with the policy's decider
                        byte[] bytes = Files.readAllBytes(uki);
                        org.kexecmeasured.policy.file.PolicyFile pf = org.kexecmeasured.policy.file.PolicyParser.read(policy);
                        MeasuredBoot.Request req = new MeasuredBoot.Request(bytes, "demo.efi", null, fwFile, state, null,
                                org.kexecmeasured.policy.PolicyDecider.bootPolicy(pf), "test", 120_000, OsLogs.NONE);
                        Tpm tpm = TpmOpener.DEFAULT.open(swtpm.tcti());
                        opened.add(tpm);
                        try (tpm) {
                            Decider decider = org.kexecmeasured.policy.PolicyDecider.prepare(pf, bytes, tpm);
                            RefusedException refused = org.junit.jupiter.api.Assertions.assertThrows(RefusedException.class, () ->
                                    LoadOnly.prepareForShutdown(req, tpm, decider,
                                            new FileModeLoader(k.loader(), KexecFileLoader.Target.REBOOT), pending, "/usr/bin/kexec-measured",
                                            pf.measurement().tolerateDivergent(), swtpm.tcti()));
                            assertTrue(refused.getMessage().contains("refused by policy"), refused.getMessage());
                        }
                        assertFalse(Files.exists(pending.resolve(PendingBoot.FILE)), what + ": nothing pending");
                    } else {
                        List<String> args = new ArrayList<>(List.of("boot", uki.toString(), "--policy", policy.toString(), "--tpm",
                                swtpm.tcti(), "--firmware-log", fwFile.toString(), "--state-dir", state.toString()));
                        if (!mode.equals("load")) args.add(mode);
                        ChainFixtures.Cli r = counted(opened, k, args.toArray(String[]::new));
                        assertEquals(Main.EXIT_POLICY_DENIED, r.rc(), what + ": " + r.out() + r.err());
                        assertTrue(r.err().contains("refused by policy"), r.err());
                    }
                    assertEquals(List.of(), k.calls, what + ": no kexec system call, not even a memfd");
                    assertFalse(k.loaded || k.crashLoaded, what);
                    assertEquals(before, allPcrs(swtpm), what + ": no PCR changed");
                    SortedMap<Integer, Long> sent = commands(opened);
                    assertFalse(sent.isEmpty(), what + ": the TPM was read");
                    assertEquals(0L, sent.getOrDefault(CommandCode.PCR_EXTEND, 0L), what + ": " + sent);
                    assertTrue(READS.containsAll(sent.keySet()), what + ": only reads before the refusal: " + sent);
                    assertFalse(Files.exists(state.resolve("journal.jsonl")), what + ": no journal: nothing was about to be extended");
                }
                // predict says the same, with exit 3
                ChainFixtures.Cli p = ChainFixtures.cli("predict", "--policy", policy.toString(), uki.toString(), "--tpm", swtpm.tcti(),
                        "--firmware-log", fwFile.toString());
                assertEquals(Main.EXIT_POLICY_DENIED, p.rc(), p.out() + p.err());
                assertTrue(p.out().contains("decision: deny"), p.out());
            }
            // a bad policy is refused before anything else: exit 2, the file, line and key named, no TPM command
            Path bad = dir.resolve("bad.yaml");
            Files.writeString(bad, "version: 1\nmeasurement:\n  extend: [4, 24]\n");
            List<Tpm> opened = new ArrayList<>();
            ChainFixtures.Cli r = counted(opened, "boot", uki.toString(), "--policy", bad.toString(), "--tpm", swtpm.tcti(),
                    "--firmware-log", fwFile.toString(), "--state-dir", dir.resolve("state-bad").toString(), "--no-load");
            assertEquals(Main.EXIT_BAD_INPUT, r.rc(), r.err());
            assertTrue(r.err().contains(bad + ":3: measurement.extend[1]: PCR 24 does not exist"), r.err());
            assertTrue(opened.isEmpty(), "the TPM was not even opened");
            assertNotNull(r.err());
            // (re-authorization with a commit at shutdown is decided again at the commit: ReauthAtShutdownTest)
        }
    }
}
