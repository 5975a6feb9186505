package org.kexecmeasured.tpm.testing;

import org.kexecmeasured.tpm.SwtpmControl;
import org.kexecmeasured.tpm.Tcti;
import org.kexecmeasured.tpm.TpmCommandException;
import org.kexecmeasured.tpm.TpmRc;
import org.kexecmeasured.tpm.TssTpm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A running swtpm (TPM 2.0) on free loopback ports, started with the scripts in swtpm-fixtures/.
 * Control port = data port + 1, as tpm2-tss's swtpm TCTI expects. Close stops it and deletes its state.
 */
public final class Swtpm implements AutoCloseable {
    private final Path dir;
    private final List<String> banks;
    private int port;
    private int ctrlPort;
    private long pid;
    private boolean closed;
    private final Thread hook;

    private Swtpm(Path dir, List<String> banks) {
        this.dir = dir;
        this.banks = List.copyOf(banks);
        this.hook = new Thread(this::killQuietly, "swtpm-cleanup");
    }

    /** Creates state with these banks and starts swtpm. */
    public static Swtpm start(List<String> banks) {
        Path dir;
        try {
            dir = Files.createTempDirectory("kexec-measured-swtpm");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Swtpm s = new Swtpm(dir, banks);
        Runtime.getRuntime().addShutdownHook(s.hook);
        try {
            run(fixture("create-state.sh").toString(), dir.toString(), "--pcr-banks", String.join(",", banks));
            s.launch();
            return s;
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /** Starts (again) on fresh free ports with the existing state. */
    private void launch() {
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int p = freePortPair();
            try {
                run(fixture("start.sh").toString(), dir.toString(), Integer.toString(p), Integer.toString(p + 1));
                port = p;
                ctrlPort = p + 1;
                pid = Long.parseLong(Files.readString(dir.resolve("swtpm.pid")).strip());
                waitListening();
                return;
            } catch (IOException e) {
                last = e;
            } catch (IllegalStateException e) {
                // port taken between probing and binding: try another pair
                last = new IOException(e.getMessage());
            }
        }
        throw new IllegalStateException("swtpm did not start: " + last);
    }

    private void waitListening() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", ctrlPort), 200);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) throw e;
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", ie);
                }
            }
        }
    }

    /** A data port whose successor (the control port) is free too. */
    public static int freePortPair() {
        for (int i = 0; i < 50; i++) {
            try (ServerSocket a = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                int p = a.getLocalPort();
                if (p >= 65535) continue;
                try (ServerSocket b = new ServerSocket(p + 1, 1, java.net.InetAddress.getLoopbackAddress())) {
                    if (b.getLocalPort() == p + 1) return p;
                } catch (IOException busy) {
                    // next
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new IllegalStateException("no free loopback port pair");
    }

    /** swtpm-fixtures/ of this repository (tests run with the repo root as working directory). */
    public static Path fixture(String name) {
        String base = System.getProperty("kexec-measured.fixtures");
        Path p = (base != null ? Path.of(base) : Path.of(System.getProperty("user.dir"), "swtpm-fixtures")).resolve(name);
        if (!Files.isExecutable(p)) throw new IllegalStateException("missing fixture script " + p);
        return p;
    }

    /** Runs a command, failing with its output when it exits non-zero or takes over 60 s. */
    public static String run(String... cmd) {
        try {
            Process pr = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = pr.getInputStream().readAllBytes();
            if (!pr.waitFor(60, TimeUnit.SECONDS)) {
                pr.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + ": timed out");
            }
            String s = new String(out);
            if (pr.exitValue() != 0) throw new IllegalStateException(String.join(" ", cmd) + " exited " + pr.exitValue() + ":\n" + s);
            return s;
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + cmd[0] + " (is it installed?): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    public int port() {
        return port;
    }

    public int ctrlPort() {
        return ctrlPort;
    }

    public long pid() {
        return pid;
    }

    public Path stateDir() {
        return dir;
    }

    public List<String> banks() {
        return banks;
    }

    /** TCTI for our code and for tpm2-tools: swtpm:host=127.0.0.1,port=N. */
    public String tcti() {
        return "swtpm:host=127.0.0.1,port=" + port;
    }

    /** TCTI with a per-command timeout (our extension; tpm2-tools does not know timeout=). */
    public String tcti(long timeoutMs) {
        return tcti() + ",timeout=" + timeoutMs;
    }

    public TssTpm open() {
        return new TssTpm(Tcti.parse(tcti()).open());
    }

    public SwtpmControl control() {
        return SwtpmControl.tcp("127.0.0.1", ctrlPort);
    }

    /**
     * Reboot: control-channel INIT (TPM reset, PCRs cleared) then TPM2_Startup(CLEAR). Open
     * connections of the caller must be closed first (swtpm serves one data connection at a time).
     */
    public void reboot() {
        control().init();
        try (TssTpm t = open()) {
            try {
                t.startupClear();
            } catch (TpmCommandException e) {
                // swtpm's startup-clear flag may already have started it
                if (e.rc().base() != TpmRc.RC_VER1) throw e;
            }
        }
    }

    /**
     * Stores the TPM's volatile state (PCRs among it) in the state directory with {@code swtpm_ioctl -v}
     * (Debian package swtpm-tools); the next {@link #restart()} resumes from it. With a {@link #kill()}
     * after it, swtpm behaves like a TPM whose connection died while the platform kept power.
     */
    public void storeVolatileState() {
        if (!Files.isExecutable(Path.of("/usr/bin/swtpm_ioctl"))) {
            throw new IllegalStateException("swtpm_ioctl not found: install the Debian package swtpm-tools (tests/bin/install-deps)");
        }
        run("swtpm_ioctl", "--tcp", "127.0.0.1:" + ctrlPort, "-v");
    }

    /** SIGKILL, as if the TPM vanished. */
    public void kill() {
        ProcessHandle.of(pid).ifPresent(h -> {
            h.destroyForcibly();
            try {
                h.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("swtpm " + pid + " did not die", e);
            }
        });
    }

    /** SIGSTOP: the TPM stops answering but its sockets stay open. */
    public void freeze() {
        run("kill", "-STOP", Long.toString(pid));
    }

    public void thaw() {
        run("kill", "-CONT", Long.toString(pid));
    }

    public boolean alive() {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** Starts swtpm again on the same state (after kill()). */
    public void restart() {
        killQuietly();
        launch();
    }

    private void killQuietly() {
        try {
            if (pid > 0) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        } catch (RuntimeException ignored) {
            // best effort in a shutdown hook
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            if (pid > 0 && alive()) {
                thawQuietly();
                run(fixture("stop.sh").toString(), dir.toString());
            }
        } catch (RuntimeException e) {
            killQuietly();
        } finally {
            deleteTree(dir);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // JVM already shutting down
            }
        }
    }

    private void thawQuietly() {
        try {
            thaw();
        } catch (RuntimeException ignored) {
            // not stopped
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(s.sorted(Comparator.reverseOrder()).toList());
            for (Path p : all) Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // temp dir; leftovers are harmless
        }
    }
}
