package org.kexecmeasured.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * One TPM reached by two TCTI spellings gets one lock (review: it got two, so two runs could interleave their
 * extends). Device nodes are made with mknod and their numbers read with stat(1) (the oracle); the address
 * of "localhost" comes from getent(1).
 */
class LocksTpmIdTest {

    @Test
    void oneDeviceUnderTwoNamesOrALinkIsOneTpm(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        run("mknod", a.toString(), "c", "1", "3");
        run("mknod", b.toString(), "c", "1", "3");
        Path link = Files.createSymbolicLink(dir.resolve("link"), a);
        String[] majMin = run("stat", "-c", "%t %T", a.toString()).strip().split(" ");
        String expected = "device-" + Integer.parseInt(majMin[0], 16) + "_" + Integer.parseInt(majMin[1], 16);
        assertEquals(expected, Locks.tpmId("device:" + a));
        assertEquals(expected, Locks.tpmId("device:" + b));
        assertEquals(expected, Locks.tpmId("device:" + link));
        assertEquals(expected, Locks.tpmId("device:" + dir.resolve("x/../a")));
        run("mknod", dir.resolve("other").toString(), "c", "1", "5");
        assertNotEquals(expected, Locks.tpmId("device:" + dir.resolve("other")));
        // the kernel's names keep their meaning: tpmrm0 is the resource manager in front of tpm0
        assertEquals(Locks.tpmId("device:/dev/tpm0"), Locks.tpmId("device:/dev/tpmrm0"));
    }

    @Test
    void oneSimulatorUnderTwoSpellingsIsOneTpm(@TempDir Path dir) throws Exception {
        String localhost = run("getent", "ahostsv4", "localhost").lines().findFirst().orElseThrow().split("\\s+")[0];
        String id = Locks.tpmId("swtpm:host=" + localhost + ",port=2321");
        assertEquals(id, Locks.tpmId("swtpm:"));
        assertEquals(id, Locks.tpmId("swtpm:host=LOCALHOST,port=02321"));
        assertEquals(id, Locks.tpmId("mssim:host=localhost,port=2321"), "mssim and swtpm speak one protocol on one port");
        assertNotEquals(id, Locks.tpmId("swtpm:host=" + localhost + ",port=2331"));
        Path sock = Files.createFile(dir.resolve("tpm.sock"));
        Path link = Files.createSymbolicLink(dir.resolve("link.sock"), sock);
        assertEquals(Locks.tpmId("swtpm:path=" + sock), Locks.tpmId("swtpm:path=" + link));
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}
