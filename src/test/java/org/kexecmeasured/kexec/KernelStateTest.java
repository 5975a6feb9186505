package org.kexecmeasured.kexec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kexecmeasured.kexec.KernelState.Lockdown;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading sysfs/procfs shaped trees: the bracketed lockdown mode, flags, and "unknown" for what is absent. */
class KernelStateTest {

    @Test
    void lockdownIsTheBracketedWord() {
        assertEquals(Lockdown.NONE, Lockdown.parse("[none] integrity confidentiality"));
        assertEquals(Lockdown.INTEGRITY, Lockdown.parse("none [integrity] confidentiality\n"));
        assertEquals(Lockdown.CONFIDENTIALITY, Lockdown.parse("none integrity [confidentiality]"));
        assertEquals(Lockdown.UNKNOWN, Lockdown.parse("none integrity confidentiality"));
        assertEquals(Lockdown.UNKNOWN, Lockdown.parse(null));
        assertTrue(Lockdown.INTEGRITY.restrictsKexec());
        assertFalse(Lockdown.NONE.restrictsKexec());
    }

    @Test
    void readsEveryFileAndLeavesMissingOnesUnknown(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("sys/kernel/security"));
        Files.createDirectories(root.resolve("proc/sys/kernel"));
        Files.writeString(root.resolve("sys/kernel/kexec_loaded"), "1\n");
        Files.writeString(root.resolve("sys/kernel/kexec_crash_loaded"), "0\n");
        Files.writeString(root.resolve("sys/kernel/kexec_crash_size"), "268435456\n");
        Files.writeString(root.resolve("sys/kernel/security/lockdown"), "none [integrity] confidentiality\n");
        KernelState s = KernelState.read(root);
        assertEquals(new KernelState(true, false, 268435456L, null, Lockdown.INTEGRITY), s);
        Files.writeString(root.resolve("proc/sys/kernel/kexec_load_disabled"), "garbage");
        assertNull(KernelState.read(root).kexecDisabled());
        KernelState empty = KernelState.read(root.resolve("nothing"));
        assertEquals(new KernelState(null, null, null, null, Lockdown.UNKNOWN), empty);
    }

    @Test
    void theBuildMachinesOwnFilesParse() throws IOException {
        KernelState s = KernelState.read();
        Path loaded = Path.of("/sys/kernel/kexec_loaded");
        if (Files.isReadable(loaded)) {
            assertEquals(Files.readString(loaded).trim().equals("1"), s.loaded());
        } else {
            assertNull(s.loaded());
        }
    }
}
