package org.kexecmeasured.tpm.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.cli.Main;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * swtpm-fixtures/start.sh with paths relative to the caller's directory: swtpm --daemon changes to /
 * before it opens its state, so the script must pass absolute paths (a relative DIR used to leave
 * swtpm in failure mode, and relative socket names were taken for port numbers).
 */
class SwtpmFixturesTest {

    @TempDir
    Path tmp;

    static int sh(Path cwd, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(cwd.resolve("sh.log").toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd));
        return p.exitValue();
    }

    static String pcr0(String tcti) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.execute(new String[]{"tpm", "pcrs", "--tpm", tcti, "--bank", "sha256", "0"}, new PrintWriter(out), new PrintWriter(err));
        assertEquals(0, rc, "a working TPM answers: " + err);
        return out.toString();
    }

    @Test
    void relativeStateDirectoryAndSocketNames() throws Exception {
        assertEquals(0, sh(tmp, Swtpm.fixture("create-state.sh").toString(), "state", "--pcr-banks", "sha256"));
        int port = Swtpm.freePortPair();
        assertEquals(0, sh(tmp, Swtpm.fixture("start.sh").toString(), "state", Integer.toString(port), Integer.toString(port + 1)),
                Files.readString(tmp.resolve("sh.log")));
        try {
            assertTrue(pcr0("swtpm:host=127.0.0.1,port=" + port).contains("0 : 0x" + "0".repeat(64)));
            assertTrue(Files.isRegularFile(tmp.resolve("state/swtpm.pid")), "pid file in the relative DIR");
            assertFalse(Files.readString(tmp.resolve("state/swtpm.log"), StandardCharsets.UTF_8).contains("failure mode"));
        } finally {
            assertEquals(0, sh(tmp, Swtpm.fixture("stop.sh").toString(), "state"));
        }
        assertFalse(Files.exists(tmp.resolve("state/swtpm.pid")), "stop.sh with the relative DIR stopped it");

        // Unix sockets named relative to the caller
        assertEquals(0, sh(tmp, Swtpm.fixture("start.sh").toString(), "state", "data.sock", "ctrl.sock"),
                Files.readString(tmp.resolve("sh.log")));
        try {
            assertTrue(Files.exists(tmp.resolve("data.sock")), "socket created where the caller named it");
            assertTrue(pcr0("swtpm:path=" + tmp.resolve("data.sock")).contains("0 : 0x"));
        } finally {
            assertEquals(0, sh(tmp, Swtpm.fixture("stop.sh").toString(), "state"));
        }
        List<String> left = ProcessHandle.allProcesses().filter(h -> h.info().commandLine().orElse("").contains(tmp.toString()))
                .map(h -> h.info().commandLine().orElse("")).toList();
        assertEquals(List.of(), left, "no swtpm left running");
    }
}
