package org.kexecmeasured.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.eventlog.EventLog;
import org.kexecmeasured.tpm.testing.Swtpm;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Json;
import org.kexecmeasured.util.SystemdJournal;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Journal entries against the real systemd-journald (started privately by {@link PrivateJournald};
 * no journald runs on the test machines) and read back with journalctl: the native protocol's
 * encoding, and the tool run as a service (INVOCATION_ID set) logging a boot with its identifiers —
 * the boundary nonce equal to the manifest's, the payload digest equal to pesign's.
 */
class JournalLogTest {
    @TempDir
    static Path dir;
    static PrivateJournald journald;

    @BeforeAll
    static void start() throws Exception {
        journald = PrivateJournald.start(dir);
    }

    @AfterAll
    static void stop() throws Exception {
        if (journald != null) journald.close();
    }

    @Test
    void nativeProtocolFieldsArriveAsSent() throws Exception {
        String tag = UUID.randomUUID().toString().replace("-", "");
        Map<String, String> f = new LinkedHashMap<>();
        f.put("MESSAGE", "first line\nsecond line with = and ü");
        f.put("SYSLOG_IDENTIFIER", "kexec-measured-test");
        f.put("KEXEC_MEASURED_TEST_TAG", tag);
        f.put("KEXEC_MEASURED_EMPTY", "");
        f.put("KEXEC_MEASURED_EQUALS", "a=b=c");
        new SystemdJournal(journald.socket()).send(f);
        JsonNode e = journald.await(n -> tag.equals(n.path("KEXEC_MEASURED_TEST_TAG").asText()), "tagged " + tag);
        assertEquals("first line\nsecond line with = and ü", e.path("MESSAGE").asText());
        assertEquals("", e.path("KEXEC_MEASURED_EMPTY").asText());
        assertEquals("a=b=c", e.path("KEXEC_MEASURED_EQUALS").asText());
        assertEquals("kexec-measured-test", e.path("SYSLOG_IDENTIFIER").asText());
        assertEquals(Long.toString(ProcessHandle.current().pid()), e.path("_PID").asText(), "journald's trusted _PID: this JVM");
    }

    @Test
    void aFieldNameJournaldWouldRejectIsRefusedBeforeSending() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SystemdJournal.encode(Map.of("lower_case", "x")));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SystemdJournal.encode(Map.of("_TRUSTED", "x")));
    }

    /** The tool as a child process inside journald's namespace, with the given extra environment. */
    static int tool(Map<String, String> env, String... args) throws Exception {
        return tool(List.of(), env, args);
    }

    /** … started through {@code wrapper} (a command that runs the rest of its arguments). */
    static int tool(List<String> wrapper, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(journald.inside(cmd)).redirectErrorStream(true);
        pb.environment().keySet().removeAll(List.of("INVOCATION_ID", "JOURNAL_STREAM", JournalLog.ENV));
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "timed out: " + cmd);
        lastOutput = out;
        return p.exitValue();
    }

    static String lastOutput;

    @Test
    void aFailedCommandIsAnErrorEntryOnlyWhenRunAsAService() throws Exception {
        Path missing = dir.resolve("no-such-log.bin");
        assertEquals(2, tool(Map.of(), "eventlog", "show", missing.toString()), lastOutput);
        String invocation = UUID.randomUUID().toString().replace("-", "");
        assertEquals(2, tool(Map.of("INVOCATION_ID", invocation), "eventlog", "show", missing.toString()), lastOutput);
        JsonNode e = journald.await(n -> JournalLog.FAILED.equals(n.path("MESSAGE_ID").asText())
                && n.path("MESSAGE").asText().contains(missing.toString()), "for the failed show");
        assertEquals("3", e.path("PRIORITY").asText());
        assertEquals("2", e.path("KEXEC_MEASURED_EXIT").asText());
        assertEquals("kexec-measured eventlog show", e.path("KEXEC_MEASURED_COMMAND").asText());
        long failures = journald.entries().stream().filter(n -> n.path("MESSAGE").asText().contains(missing.toString())).count();
        assertEquals(1, failures, "the run without INVOCATION_ID left no entry");
    }

    @Test
    void aBootRunAsAServiceLogsItsIdentifiers() throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki"));
        Path firmware = dir.resolve("firmware.bin");
        Files.write(firmware, EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build().toBytes());
        Path state = dir.resolve("state");
        try (Swtpm swtpm = Swtpm.start(List.of("sha256"))) {
            int rc = tool(Map.of("INVOCATION_ID", UUID.randomUUID().toString().replace("-", "")), "boot",
                    uki.resolve("demo.efi").toString(), "--tpm", swtpm.tcti(), "--firmware-log", firmware.toString(),
                    "--state-dir", state.toString(), "--no-load");
            assertEquals(0, rc, lastOutput);
        }
        JsonNode manifest = Json.MAPPER.readTree(state.resolve("initrd-extra/.extra/kexec-measured/manifest.json").toFile());
        Matcher n = Pattern.compile("(?m)^nonce=([0-9a-f]{32})$").matcher(manifest.path("boundary").asText());
        assertTrue(n.find(), manifest.toString());
        JsonNode e = journald.await(x -> JournalLog.BOOT_MEASURED.equals(x.path("MESSAGE_ID").asText())
                && n.group(1).equals(x.path("KEXEC_MEASURED_BOUNDARY_NONCE").asText()), "for the boot with nonce " + n.group(1));
        assertEquals("kexec-measured", e.path("SYSLOG_IDENTIFIER").asText());
        assertEquals("6", e.path("PRIORITY").asText());
        assertEquals("2", e.path("KEXEC_MEASURED_GENERATION").asText(), "the first kexec boundary starts generation 2");
        assertEquals(ChainFixtures.pesignHash(uki.resolve("demo.efi"), "sha256"), e.path("KEXEC_MEASURED_PAYLOAD_SHA256").asText(),
                "the payload's Authenticode SHA-256, as pesign computes it");
        assertEquals("demo.efi", e.path("KEXEC_MEASURED_PAYLOAD").asText());
        assertEquals(state.resolve("eventlog.bin").toString(), e.path("KEXEC_MEASURED_EVENTLOG").asText());
        assertTrue(e.path("MESSAGE").asText().startsWith("measured boot of demo.efi: generation 2"), e.path("MESSAGE").asText());

        // exec of that boot's kernel: the entry comes before the system call and names the boot. The call
        // itself must fail here: the tool runs in a new user namespace, where the kernel refuses
        // reboot(LINUX_REBOOT_CMD_KEXEC) with EPERM (CAP_SYS_BOOT counts only in the initial one), so
        // this machine cannot be rebooted by the test even if some kernel were loaded.
        String invocation = UUID.randomUUID().toString().replace("-", "");
        int rc = tool(List.of("unshare", "--user", "--map-root-user", "--"), Map.of("INVOCATION_ID", invocation),
                "exec", "--state-dir", state.toString());
        assertEquals(2, rc, lastOutput);
        assertTrue(lastOutput.contains("EPERM"), "the kernel refused the kexec reboot (no CAP_SYS_BOOT in a user namespace): "
                + lastOutput);
        JsonNode x = journald.await(y -> JournalLog.KEXEC_STARTED.equals(y.path("MESSAGE_ID").asText())
                && n.group(1).equals(y.path("KEXEC_MEASURED_BOUNDARY_NONCE").asText()),
                "for the start of the kernel of the boot with nonce " + n.group(1));
        assertEquals("2", x.path("KEXEC_MEASURED_GENERATION").asText());
        assertEquals(e.path("KEXEC_MEASURED_PAYLOAD_SHA256").asText(), x.path("KEXEC_MEASURED_PAYLOAD_SHA256").asText());
        assertEquals(state.toString(), x.path("KEXEC_MEASURED_STATE_DIR").asText());
        JsonNode failed = journald.await(y -> JournalLog.FAILED.equals(y.path("MESSAGE_ID").asText())
                && "kexec-measured exec".equals(y.path("KEXEC_MEASURED_COMMAND").asText()), "for the refused exec");
        assertTrue(failed.path("__REALTIME_TIMESTAMP").asLong() >= x.path("__REALTIME_TIMESTAMP").asLong(),
                "the start is logged before the system call that failed");
    }

    @Test
    void aPredictionRunAsAServiceLogsGenerationPayloadAndDecision() throws Exception {
        Path uki = ChainFixtures.makeUki(dir.resolve("uki-predict")).resolve("demo.efi");
        Path firmware = dir.resolve("firmware-predict.bin");
        Files.write(firmware, EventLog.newCryptoAgile(List.of(HashAlg.SHA256)).build().toBytes());
        // a PCR snapshot in tpm2_pcrread's format: a fresh TPM's sha256 bank (the empty log replays to it)
        StringBuilder s = new StringBuilder("  sha256:\n");
        for (int i = 0; i < 24; i++) s.append(String.format("    %-2d: 0x%s%n", i, (i >= 17 && i <= 22 ? "FF" : "00").repeat(32)));
        Path pcrs = dir.resolve("pcrs.yaml");
        Files.writeString(pcrs, s.toString());
        Path policy = Path.of("policy/minimal.yaml").toAbsolutePath();
        int rc = tool(Map.of("INVOCATION_ID", UUID.randomUUID().toString().replace("-", "")), "predict", "--policy",
                policy.toString(), uki.toString(), "--pcrs", pcrs.toString(), "--firmware-log", firmware.toString());
        assertEquals(0, rc, lastOutput);
        String policySha256 = ChainFixtures.run("sha256sum", policy.toString()).split(" ")[0];
        JsonNode e = journald.await(x -> JournalLog.BOOT_PREDICTED.equals(x.path("MESSAGE_ID").asText())
                && policySha256.equals(x.path("KEXEC_MEASURED_POLICY").asText()), "for the prediction under " + policy);
        assertEquals("kexec-measured", e.path("SYSLOG_IDENTIFIER").asText());
        assertEquals("6", e.path("PRIORITY").asText(), "an allowed boot is information");
        assertEquals("allow", e.path("KEXEC_MEASURED_DECISION").asText());
        assertEquals("2", e.path("KEXEC_MEASURED_GENERATION").asText(), "the boot would start generation 2");
        assertEquals(ChainFixtures.pesignHash(uki, "sha256"), e.path("KEXEC_MEASURED_PAYLOAD_SHA256").asText(),
                "the payload's Authenticode SHA-256, as pesign computes it");
        assertEquals(policy.toString(), e.path("KEXEC_MEASURED_POLICY_FILE").asText());
        assertTrue(e.path("KEXEC_MEASURED_BOUNDARY_NONCE").isMissingNode(), "a prediction's nonce names no boot");
    }
}
