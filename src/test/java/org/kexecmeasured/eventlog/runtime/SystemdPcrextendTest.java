package org.kexecmeasured.eventlog.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.systemd.SystemdVersions;
import org.kexecmeasured.tpm.testing.SwtpmExtension;
import org.kexecmeasured.tpm.testing.Tpm2Tools;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A real systemd userspace log: Debian trixie's systemd-pcrextend (257, via tests/bin/fetch-systemd)
 * extends a swtpm's PCR 11 with boot phases and PCR 15 with this machine's machine-id, writing its
 * tpm2-measure.log; the records we parse replay to the PCR values tpm2_pcrread reads from that TPM.
 */
class SystemdPcrextendTest {
    @RegisterExtension
    static SwtpmExtension SWTPM = SwtpmExtension.withBanks("sha1", "sha256");

    @Test
    void pcrextendsLogReplaysToTheTpm(@TempDir Path dir) throws IOException {
        SystemdVersions.Version v = SystemdVersions.suite("trixie");
        Path root = v.root();
        Path tool = root.resolve("usr/lib/systemd/systemd-pcrextend");
        if (!Files.isRegularFile(tool)) fail(tool + " missing from the trixie systemd fetched by tests/bin/fetch-systemd");
        Path log = dir.resolve("tpm2-measure.log");
        String tcti = SWTPM.swtpm().tcti();
        for (List<String> args : List.of(List.of("enter-initrd"), List.of("leave-initrd"), List.of("sysinit"),
                List.of("--machine-id"), List.of("ready"))) {
            List<String> cmd = new ArrayList<>(List.of(root.resolve("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").toString(),
                    "--library-path", root.resolve("usr/lib/x86_64-linux-gnu/systemd") + ":" + root.resolve("usr/lib/x86_64-linux-gnu")
                            + ":" + root.resolve("usr/lib/systemd"), tool.toString(), "--tpm2-device=" + tcti));
            cmd.addAll(args);
            // SYSTEMD_FORCE_MEASURE: measure although this host was not booted through systemd-stub;
            // SYSTEMD_MEASURE_LOG_USERSPACE: the log goes here instead of /run/log/systemd
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("SYSTEMD_FORCE_MEASURE", "1");
            pb.environment().put("SYSTEMD_MEASURE_LOG_USERSPACE", log.toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            try {
                if (p.waitFor() != 0) fail("systemd-pcrextend " + args + " exited " + p.exitValue() + ": " + out);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        List<RuntimeRecord> records = SystemdMeasureLog.parse(Files.readAllBytes(log));
        assertEquals(5, records.size());
        assertEquals("phase enter-initrd", records.get(0).description());
        Map<String, Map<Integer, String>> tpm = Tpm2Tools.pcrread(tcti, "sha1:11,15+sha256:11,15");
        for (HashAlg a : List.of(HashAlg.SHA1, HashAlg.SHA256)) {
            for (int pcr : List.of(11, 15)) {
                byte[] v0 = new byte[a.size];
                for (RuntimeRecord r : records) if (r.pcr() == pcr) v0 = a.extend(v0, r.digests().get(a));
                assertEquals(tpm.get(a.tpmName).get(pcr), Hex.of(v0), a + " PCR " + pcr);
            }
        }
    }
}
